package dev.curvature.engine;

/**
 * A symmetric eigendecomposition A = V diag(values) Vᵀ.
 *
 * @param values  (n) eigenvalues in descending order (negatives possibly clipped to 0, see quality)
 * @param vectors (n, n) column k is the unit eigenvector of values[k]
 * @param quality residual, orthogonality and negative-eigenvalue report
 */
public record SymmetricEigen(Tensor values, Tensor vectors, EigenQuality quality) {
}
