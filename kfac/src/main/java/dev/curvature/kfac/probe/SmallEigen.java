package dev.curvature.kfac.probe;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.SymmetricEigen;
import dev.curvature.engine.Tensor;

import java.lang.foreign.Arena;

/**
 * The eigendecomposition of a small dense symmetric matrix held in a Java array (Lanczos' tridiagonal T, a projected
 * D × D Hessian), by the backend's LAPACK {@code dsyevd} in F64.
 *
 * @param values  (n) descending
 * @param vectors (n, n) row-major; column k is the unit eigenvector of values[k]
 */
record SmallEigen(double[] values, double[] vectors, int n) {
    static SmallEigen of(Backend backend, double[] matrix, int n, String name) {
        try (Arena arena = Arena.ofShared()) {
            Tensor a = Tensor.of(arena, DType.F64, matrix, n, n).named(name);
            SymmetricEigen e = backend.eigh(arena, a, false);
            return new SmallEigen(e.values().toDoubleArray(), e.vectors().toDoubleArray(), n);
        }
    }

    double vector(int row, int column) {
        return vectors[row * n + column];
    }
}
