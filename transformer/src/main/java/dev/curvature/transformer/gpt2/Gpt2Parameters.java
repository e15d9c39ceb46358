package dev.curvature.transformer.gpt2;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.checkpoint.Gpt2TensorCatalogue;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every GPT-2 parameter tensor in the maths layout — linear weights (d_out, d_in) — under its Hugging Face name
 * (without the "transformer." prefix). Used both for the weights and, with the same shapes, for their gradients.
 * Owns its memory (one shared arena, closed by {@link #close}).
 */
public final class Gpt2Parameters implements AutoCloseable {
    private final Gpt2Config config;
    private final DType dtype;
    private final Arena arena;
    private final Map<String, Tensor> tensors;

    private Gpt2Parameters(Gpt2Config config, DType dtype, Arena arena, Map<String, Tensor> tensors) {
        this.config = config;
        this.dtype = dtype;
        this.arena = arena;
        this.tensors = tensors;
    }

    /** Zero-filled parameters of {@code config} in {@code dtype} (F32 or F64), in the backend's memory. */
    public static Gpt2Parameters allocate(Backend backend, Gpt2Config config, DType dtype) {
        if (!dtype.isCompute()) {
            throw new IllegalArgumentException("model dtype must be F32 or F64, got " + dtype);
        }
        Arena arena = Arena.ofShared();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        shapes(config).forEach((name, shape) -> tensors.put(name, backend.allocate(arena, dtype, shape).named(name)));
        return new Gpt2Parameters(config, dtype, arena, Collections.unmodifiableMap(tensors));
    }

    /**
     * HF name → shape in the maths layout, in checkpoint order: the checkpoint catalogue's shapes, with the
     * {@code Conv1D} weights it stores (d_in, d_out) turned to (d_out, d_in).
     */
    public static Map<String, long[]> shapes(Gpt2Config config) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (Gpt2TensorCatalogue.ExpectedTensor t : Gpt2TensorCatalogue.expectedTensors(config)) {
            long[] shape = t.shape();
            shapes.put(t.name(), storedTransposed(t.name()) ? new long[]{shape[1], shape[0]} : shape);
        }
        return shapes;
    }

    /** Whether the HF checkpoint stores this weight transposed, as (d_in, d_out) ({@code Conv1D}). */
    public static boolean storedTransposed(String name) {
        return Gpt2TensorCatalogue.storedTransposed(name);
    }

    /** The tensor named {@code name}; an unknown name is an error listing a few known ones. */
    public Tensor get(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException("GPT-2 has no parameter '" + name + "' (e.g. wte.weight, "
                    + "h.0.mlp.c_fc.weight, ln_f.bias)");
        }
        return t;
    }

    /** Block i's tensor {@code suffix}, e.g. block(3, "mlp.c_fc.weight"). */
    public Tensor block(int i, String suffix) {
        return get("h." + i + "." + suffix);
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

    public Gpt2Config config() {
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
