package dev.curvature.transformer.model;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's parameter tensors in the maths layout (linear weights (d_out, d_in)) under their Hugging Face names, in
 * checkpoint order. Used for the weights and, with the same shapes, for their gradients and optimizer moments.
 * Owns its memory (one shared arena, closed by {@link #close}).
 */
public final class ParameterSet implements AutoCloseable {
    private final ModelConfig config;
    private final DType dtype;
    private final Arena arena;
    private final Map<String, Tensor> tensors;

    private ParameterSet(ModelConfig config, DType dtype, Arena arena, Map<String, Tensor> tensors) {
        this.config = config;
        this.dtype = dtype;
        this.arena = arena;
        this.tensors = tensors;
    }

    /** Zero-filled parameters of {@code config} (its {@link ModelConfig#parameterShapes()}) in {@code dtype}. */
    public static ParameterSet allocate(Backend backend, ModelConfig config, DType dtype) {
        if (!dtype.isCompute()) {
            throw new IllegalArgumentException("model dtype must be F32 or F64, got " + dtype);
        }
        Arena arena = Arena.ofShared();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        config.parameterShapes().forEach((name, shape) ->
                tensors.put(name, backend.allocate(arena, dtype, shape).named(name)));
        return new ParameterSet(config, dtype, arena, Collections.unmodifiableMap(tensors));
    }

    /** Zero-filled tensors shaped like these, of the same config and dtype (gradients, optimizer moments). */
    public ParameterSet zerosLike(Backend backend) {
        return allocate(backend, config, dtype);
    }

    /** The tensor named {@code name}; an unknown name is an error listing the first few known ones. */
    public Tensor get(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            List<String> some = names().subList(0, Math.min(3, tensors.size()));
            throw new IllegalArgumentException("the model has no parameter '" + name + "' (it has " + tensors.size()
                    + ", e.g. " + String.join(", ", some) + ")");
        }
        return t;
    }

    /** Whether a tensor is named {@code name}. */
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** All tensors by HF name, in checkpoint order. */
    public Map<String, Tensor> all() {
        return tensors;
    }

    /** Parameter count. */
    public long count() {
        long n = 0;
        for (Tensor t : tensors.values()) {
            n += t.size();
        }
        return n;
    }

    /** Sets every tensor to zero (gradients, between steps). */
    public void zero(Backend backend) {
        for (Tensor t : tensors.values()) {
            backend.fill(t, 0.0);
        }
    }

    /** Names in checkpoint order. */
    public List<String> names() {
        return new ArrayList<>(tensors.keySet());
    }

    /** The model these parameters belong to. */
    public ModelConfig config() {
        return config;
    }

    public DType dtype() {
        return dtype;
    }

    @Override
    public void close() {
        arena.close();
    }
}
