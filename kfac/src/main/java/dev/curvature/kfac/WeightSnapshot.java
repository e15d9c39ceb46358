package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.model.Model;

import java.lang.foreign.Arena;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Copies of some of a model's weights, in their own dtype, taken before an edit so that {@link #restore()} puts
 * them back bit for bit — after a failed edit, or after each variant of a sweep. Each weight is saved once: saving
 * a weight again keeps the first copy (the original), so an edit that touches a layer twice still restores it.
 */
public final class WeightSnapshot implements AutoCloseable {
    private final Backend backend;
    private final Model model;
    private final Arena arena = Arena.ofShared();
    private final Map<String, Tensor> saved = new LinkedHashMap<>();

    public WeightSnapshot(Backend backend, Model model) {
        this.backend = backend;
        this.model = model;
    }

    /** Saves {@code <layer>.weight} unless it is already saved; returns the model's (live) weight. */
    public Tensor save(String layer) {
        Tensor w = model.parameters().get(layer + ".weight");
        if (!saved.containsKey(layer)) {
            Tensor copy = backend.allocate(arena, w.dtype(), w.shape());
            backend.copy(copy, w);
            saved.put(layer, copy);
        }
        return w;
    }

    /** Copies every saved weight back into the model; the snapshot stays valid (restore again after the next edit). */
    public void restore() {
        saved.forEach((layer, copy) -> backend.copy(model.parameters().get(layer + ".weight"), copy));
    }

    @Override
    public void close() {
        arena.close();
    }
}
