package dev.curvature.kfac;

import dev.curvature.engine.CovarianceAccumulator;

/**
 * The K-FAC factors of one linear layer y = x Wᵀ + b, W (d_out, d_in), as float64 sums over counted positions:
 * A = Σ x xᵀ (d_in, d_in) over the layer's inputs and G = Σ g gᵀ (d_out, d_out) over g = ∂(Σ_t loss_t)/∂y, the
 * gradient of the SUMMED loss with respect to the layer output (no 1/N factor). Divide by {@link #positions()} to
 * read the expectations E[x xᵀ], E[g gᵀ].
 */
public record KroneckerFactors(String layer, CovarianceAccumulator activations, CovarianceAccumulator gradients) {
    /** Positions accumulated (the same count for A and G). */
    public long positions() {
        return activations.rows();
    }
}
