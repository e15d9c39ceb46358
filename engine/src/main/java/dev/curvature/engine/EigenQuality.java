package dev.curvature.engine;

/**
 * How trustworthy one symmetric eigendecomposition A = V Λ Vᵀ is, computed in float64 from the returned V and Λ.
 *
 * @param tensorName          the decomposed tensor
 * @param n                   matrix size
 * @param residual            ‖A V − V Λ‖_F / ‖A‖_F with Λ before clipping (0 for A = 0)
 * @param orthogonality       ‖Vᵀ V − I‖_F / √n (the Frobenius error relative to ‖I‖_F)
 * @param negativeCount       eigenvalues below zero
 * @param mostNegative        the smallest eigenvalue when negative, else 0
 * @param negativesClipped    whether negative eigenvalues were set to zero in the returned values
 */
public record EigenQuality(String tensorName, int n, double residual, double orthogonality, int negativeCount,
                           double mostNegative, boolean negativesClipped) {

    /** One line for logs and reports. */
    public String summary() {
        return String.format("%s n=%d residual=%.3e orthogonality=%.3e negatives=%d (min %.3e)%s",
                tensorName, n, residual, orthogonality, negativeCount, mostNegative,
                negativesClipped && negativeCount > 0 ? " clipped to 0" : "");
    }
}
