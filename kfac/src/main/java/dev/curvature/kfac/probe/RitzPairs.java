package dev.curvature.kfac.probe;

import java.util.List;

/**
 * D approximate eigenpairs (λ_i, u_i) of a symmetric operator A, with their true residuals.
 *
 * @param values     λ_i, descending (Lanczos: algebraic; power iteration: in the order found)
 * @param vectors    u_i, orthonormal to the solver's precision, owned by the arena the solver was given
 * @param residuals  ‖A u_i − λ_i u_i‖₂, from one more product per pair
 * @param iterations Lanczos steps, or power iterations summed over the vectors
 * @param products   products A·v formed, the residual checks included
 * @param converged  whether the stopping rule was met before the iteration limit
 * @param method     "lanczos" or "power"
 */
public record RitzPairs(double[] values, List<ParameterVector> vectors, double[] residuals, int iterations,
                        long products, boolean converged, String method) {
    public int count() {
        return values.length;
    }
}
