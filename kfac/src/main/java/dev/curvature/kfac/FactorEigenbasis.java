package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.EigenQuality;
import dev.curvature.engine.SymmetricEigen;
import dev.curvature.engine.Tensor;

import java.lang.foreign.Arena;

/**
 * The eigenbases of one layer's K-FAC factors, in float64: G/n = U_G diag(λ) U_Gᵀ (d_out) and A/n = U_A diag(μ) U_Aᵀ
 * (d_in), eigenvalues descending, negative rounding noise clipped to 0 (counted in the quality reports). Owns its
 * memory.
 */
public final class FactorEigenbasis implements AutoCloseable {
    private final String layer;
    private final Arena arena;
    private final SymmetricEigen gradients;
    private final SymmetricEigen activations;

    private FactorEigenbasis(String layer, Arena arena, SymmetricEigen gradients, SymmetricEigen activations) {
        this.layer = layer;
        this.arena = arena;
        this.gradients = gradients;
        this.activations = activations;
    }

    /** Eigendecomposes A/n and G/n of {@code factors}; NaN/Inf in a factor is refused naming the layer. */
    public static FactorEigenbasis of(Backend backend, KroneckerFactors factors) {
        long n = factors.positions();
        if (n == 0) {
            throw new IllegalArgumentException("layer " + factors.layer() + " has no positions collected");
        }
        Arena arena = Arena.ofShared();
        try {
            int dIn = factors.activations().dim();
            int dOut = factors.gradients().dim();
            Tensor a = backend.allocate(arena, DType.F64, dIn, dIn).named(factors.layer() + ".A");
            Tensor g = backend.allocate(arena, DType.F64, dOut, dOut).named(factors.layer() + ".G");
            factors.activations().readSymmetric(a, 1.0 / n);
            factors.gradients().readSymmetric(g, 1.0 / n);
            SymmetricEigen eigG = backend.eigh(arena, g, true);
            SymmetricEigen eigA = backend.eigh(arena, a, true);
            return new FactorEigenbasis(factors.layer(), arena, eigG, eigA);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Rebuilds an eigenbasis from stored tensors (see {@link EigenbasisStore}): copies λ (d_out), U_G (d_out, d_out),
     * μ (d_in), U_A (d_in, d_in) into memory of its own, with the quality reports computed when they were made.
     */
    static FactorEigenbasis of(Backend backend, String layer, Tensor lambda, Tensor uG, EigenQuality gQuality,
                               Tensor mu, Tensor uA, EigenQuality aQuality) {
        Arena arena = Arena.ofShared();
        try {
            return new FactorEigenbasis(layer, arena,
                    new SymmetricEigen(copy(backend, arena, lambda), copy(backend, arena, uG), gQuality),
                    new SymmetricEigen(copy(backend, arena, mu), copy(backend, arena, uA), aQuality));
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static Tensor copy(Backend backend, Arena arena, Tensor t) {
        Tensor out = backend.allocate(arena, DType.F64, t.shape()).named(t.name());
        backend.copy(out, t);
        return out;
    }

    public String layer() {
        return layer;
    }

    /** λ (d_out), descending. */
    public double[] gradientEigenvalues() {
        return gradients.values().toDoubleArray();
    }

    /** μ (d_in), descending. */
    public double[] activationEigenvalues() {
        return activations.values().toDoubleArray();
    }

    /** U_G (d_out, d_out), column i = eigenvector of λ_i. */
    public Tensor gradientEigenvectors() {
        return gradients.vectors();
    }

    /** U_A (d_in, d_in), column j = eigenvector of μ_j. */
    public Tensor activationEigenvectors() {
        return activations.vectors();
    }

    public EigenQuality gradientQuality() {
        return gradients.quality();
    }

    public EigenQuality activationQuality() {
        return activations.quality();
    }

    @Override
    public void close() {
        arena.close();
    }
}
