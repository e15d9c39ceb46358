package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;

import java.lang.foreign.Arena;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * EK-FAC's corrected eigenvalues (George et al. 2018; ALGORITHMS.md §4) of linear layers, as float64 SUMS and
 * counts so that shards add exactly: per layer, S_ij = Σ_n (U_Gᵀ ∇_W ℓ_n U_A)_ij² (d_out, d_in) over n samples, and
 * Λ_ij = S_ij / n, the second moment of the gradient's coefficient on the rank-one component u_i v_jᵀ of the
 * layer's K-FAC eigenbasis — the exact diagonal of the (empirical or true) Fisher in that basis, where K-FAC has
 * λ_i μ_j. What a sample is depends on the {@link Granularity}. Owns its memory.
 */
public final class CorrectedEigenvalues implements AutoCloseable {
    /** What one sample n of the expectation is. */
    public enum Granularity {
        /**
         * One window (sequence, image): ∇_W ℓ_n = Σ_t g_{n,t} a_{n,t}ᵀ over all its rows, the per-example
         * gradient kronfluence squares.
         */
        SEQUENCE,
        /**
         * One counted position (the rows K-FAC's A and G count): ∇_W ℓ_t = g_t a_tᵀ, so
         * Λ_ij = E_t[(u_iᵀ g_t)² (v_jᵀ a_t)²], the token-level diagonal matching the factors' own expectation.
         */
        TOKEN
    }

    /** One layer's sum and count. */
    public static final class Layer {
        private final String name;
        private final Tensor sum;
        private long samples;

        private Layer(String name, Tensor sum, long samples) {
            this.name = name;
            this.sum = sum;
            this.samples = samples;
        }

        public String name() {
            return name;
        }

        /** S (d_out, d_in), float64, in the backend's memory. */
        public Tensor sum() {
            return sum;
        }

        /** The number n of samples in S. */
        public long samples() {
            return samples;
        }

        public int dOut() {
            return (int) sum.dim(0);
        }

        public int dIn() {
            return (int) sum.dim(1);
        }

        /** Λ = S / n, row-major (d_out · d_in), on the host. */
        public double[] mean() {
            if (samples == 0) {
                throw new IllegalStateException("layer " + name + " has no samples in its corrected eigenvalues");
            }
            double[] out = sum.toDoubleArray();
            for (int k = 0; k < out.length; k++) {
                out[k] /= samples;
            }
            return out;
        }

        void added(long count) {
            samples += count;
        }
    }

    private final Granularity granularity;
    private final Arena arena = Arena.ofShared();
    private final Map<String, Layer> layers = new LinkedHashMap<>();

    private CorrectedEigenvalues(Granularity granularity) {
        this.granularity = granularity;
    }

    /** Zero sums for the layers of {@code shapes} (name → {d_out, d_in}), in that order. */
    public static CorrectedEigenvalues zeros(Backend backend, Map<String, int[]> shapes, Granularity granularity) {
        CorrectedEigenvalues out = new CorrectedEigenvalues(granularity);
        try {
            shapes.forEach((name, shape) -> out.layers.put(name, new Layer(name,
                    backend.allocate(out.arena, DType.F64, shape[0], shape[1]).named(name + ".lambda_sum"), 0)));
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /** Sums rebuilt from stored tensors (copied into memory of its own). */
    static CorrectedEigenvalues of(Backend backend, Granularity granularity, Map<String, Tensor> sums,
                                   Map<String, Long> samples) {
        Map<String, int[]> shapes = new LinkedHashMap<>();
        sums.forEach((name, t) -> shapes.put(name, new int[]{(int) t.dim(0), (int) t.dim(1)}));
        CorrectedEigenvalues out = zeros(backend, shapes, granularity);
        sums.forEach((name, t) -> {
            Layer layer = out.layers.get(name);
            backend.copy(layer.sum, t);
            layer.samples = samples.get(name);
        });
        return out;
    }

    public Granularity granularity() {
        return granularity;
    }

    /** Layers by name, in collection order. */
    public Map<String, Layer> layers() {
        return Collections.unmodifiableMap(layers);
    }

    /** The layer {@code name}; an error naming the layers held when it is missing. */
    public Layer layer(String name) {
        Layer layer = layers.get(name);
        if (layer == null) {
            throw new IllegalArgumentException("no corrected eigenvalues for layer " + name + " (have "
                    + layers.keySet() + ")");
        }
        return layer;
    }

    /** Adds {@code other}'s sums and counts (same layers, shapes and granularity) into these. */
    void add(Backend backend, CorrectedEigenvalues other) {
        if (other.granularity != granularity || !other.layers.keySet().equals(layers.keySet())) {
            throw new IllegalArgumentException("cannot add corrected eigenvalues of " + other.granularity + " "
                    + other.layers.keySet() + " to " + granularity + " " + layers.keySet());
        }
        for (Layer layer : layers.values()) {
            Layer o = other.layers.get(layer.name);
            if (!o.sum.sameShape(layer.sum)) {
                throw new IllegalArgumentException("layer " + layer.name + ": corrected eigenvalues " + o.sum.describe()
                        + " cannot be added to " + layer.sum.describe());
            }
            backend.axpy(layer.sum, o.sum, 1.0);
            layer.samples += o.samples;
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
