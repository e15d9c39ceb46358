package dev.curvature.engine;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Eigendecomposition of matrices with a planted spectrum: A = Q Λ Qᵀ where Q is a product of Householder
 * reflections built in double (so the true eigenvalues are known exactly) and Λ is random. References: the
 * planted eigenvalues, and the residual ‖A v − λ v‖ recomputed here by naive loops in double.
 */
class SymmetricEigenTest {
    static final CpuBackend backend = SharedCpuBackend.get();

    /** Q Λ Qᵀ (n×n, row-major, double) with Q = H_1 ··· H_r, H = I − 2 v vᵀ for random unit v. */
    static double[] plantedMatrix(double[] lambda, int reflections, long seed) {
        int n = lambda.length;
        double[] a = new double[n * n];
        for (int i = 0; i < n; i++) {
            a[i * n + i] = lambda[i];
        }
        Random random = new Random(seed);
        double[] v = new double[n];
        double[] mv = new double[n];
        for (int r = 0; r < reflections; r++) {
            double norm = 0;
            for (int i = 0; i < n; i++) {
                v[i] = random.nextGaussian();
                norm += v[i] * v[i];
            }
            norm = Math.sqrt(norm);
            for (int i = 0; i < n; i++) {
                v[i] /= norm;
            }
            // H M H = M − 2 v (Mv)ᵀ − 2 (Mv) vᵀ + 4 (vᵀMv) v vᵀ for symmetric M
            double vmv = 0;
            for (int i = 0; i < n; i++) {
                double s = 0;
                for (int j = 0; j < n; j++) {
                    s += a[i * n + j] * v[j];
                }
                mv[i] = s;
                vmv += v[i] * s;
            }
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    a[i * n + j] += -2 * v[i] * mv[j] - 2 * mv[i] * v[j] + 4 * vmv * v[i] * v[j];
                }
            }
        }
        return a;
    }

    static double[] randomSpectrum(int n, long seed, double smallest, double largest) {
        Random random = new Random(seed);
        double[] lambda = new double[n];
        for (int i = 0; i < n; i++) {
            lambda[i] = smallest + (largest - smallest) * random.nextDouble();
        }
        return lambda;
    }

    @ParameterizedTest(name = "{0} n={1}")
    @CsvSource({"F32, 64, 1e-5", "F32, 768, 1e-5", "F32, 3072, 1e-5", "F64, 500, 1e-12"})
    void randomSpdMatrixDecomposesToPlantedSpectrum(DType dtype, int n, double tolerance) {
        double[] lambda = randomSpectrum(n, n, 0.1, 10.0);
        double[] a = plantedMatrix(lambda, 4, 1000 + n);
        try (Arena arena = Arena.ofShared()) {
            Tensor matrix = Tensor.of(arena, dtype, a, n, n).named("spd" + n);
            SymmetricEigen eig = backend.eigh(arena, matrix, true);
            EigenQuality q = eig.quality();
            System.out.println("eigh " + dtype + ": " + q.summary());
            assertTrue(q.residual() <= tolerance, q.summary());
            assertTrue(q.orthogonality() <= tolerance, q.summary());
            assertEquals(0, q.negativeCount(), q.summary());

            double[] values = eig.values().toDoubleArray();
            for (int k = 1; k < n; k++) {
                assertTrue(values[k - 1] >= values[k], "descending at " + k);
            }
            double[] planted = lambda.clone();
            Arrays.sort(planted);
            double worst = 0;
            for (int k = 0; k < n; k++) {
                worst = Math.max(worst, Math.abs(values[k] - planted[n - 1 - k]));
            }
            // eigenvalues are perturbed by at most ‖E‖₂ for a perturbation E of A (Weyl): rounding A to F32 is one
            assertTrue(worst <= tolerance * 10.0, "max eigenvalue error " + worst);

            // independent residual of a few eigenpairs by naive loops on the matrix as the backend saw it
            double[] seen = matrix.toDoubleArray();
            double[] vectors = eig.vectors().toDoubleArray();
            for (int k : new int[]{0, n / 2, n - 1}) {
                double r = 0;
                double vnorm = 0;
                for (int i = 0; i < n; i++) {
                    double s = 0;
                    for (int j = 0; j < n; j++) {
                        s += seen[i * n + j] * vectors[j * n + k];
                    }
                    double e = s - values[k] * vectors[i * n + k];
                    r += e * e;
                    vnorm += vectors[i * n + k] * vectors[i * n + k];
                }
                assertTrue(Math.sqrt(r) <= tolerance * 10.0 * Math.abs(planted[n - 1]), "pair " + k + ": " + Math.sqrt(r));
                assertEquals(1.0, Math.sqrt(vnorm), tolerance, "unit eigenvector " + k);
            }
        }
    }

    @Test
    void plantedNegativeEigenvalueIsReportedAndClipped() {
        int n = 50;
        double[] lambda = randomSpectrum(n, 9, 0.5, 3.0);
        lambda[17] = -0.25;
        double[] a = plantedMatrix(lambda, 3, 77);
        try (Arena arena = Arena.ofShared()) {
            Tensor matrix = Tensor.of(arena, DType.F64, a, n, n).named("h.1.mlp.c_fc.A");
            SymmetricEigen clipped = backend.eigh(arena, matrix, true);
            assertEquals(1, clipped.quality().negativeCount());
            assertEquals(-0.25, clipped.quality().mostNegative(), 1e-12);
            assertEquals(0.0, clipped.values().get(n - 1));
            assertTrue(clipped.quality().summary().contains("clipped"), clipped.quality().summary());

            SymmetricEigen raw = backend.eigh(arena, matrix, false);
            assertEquals(-0.25, raw.values().get(n - 1), 1e-12);
            assertEquals(1, raw.quality().negativeCount());
            assertTrue(raw.quality().residual() < 1e-12, raw.quality().summary());
        }
    }

    @Test
    void onlyTheUpperTriangleIsRead() {
        int n = 30;
        double[] a = plantedMatrix(randomSpectrum(n, 4, 1, 2), 2, 5);
        double[] upperOnly = a.clone();
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < i; j++) {
                upperOnly[i * n + j] = 1e6; // garbage below the diagonal
            }
        }
        try (Arena arena = Arena.ofShared()) {
            SymmetricEigen full = backend.eigh(arena, Tensor.of(arena, DType.F64, a, n, n), true);
            SymmetricEigen upper = backend.eigh(arena, Tensor.of(arena, DType.F64, upperOnly, n, n), true);
            NumericAssertions.assertRelativeError(full.values().toDoubleArray(), upper.values().toDoubleArray(),
                    1e-13, "eigenvalues from the upper triangle");
            assertTrue(upper.quality().residual() < 1e-12, upper.quality().summary());
        }
    }

    @Test
    void nanInputIsRejectedWithTheTensorName() {
        try (Arena arena = Arena.ofShared()) {
            Tensor matrix = Tensor.allocate(arena, DType.F32, 4, 4).named("h.7.mlp.c_proj.G");
            matrix.set(Double.NaN, 2, 3);
            var e = assertThrows(NonFiniteTensorException.class, () -> backend.eigh(arena, matrix, true));
            assertEquals("h.7.mlp.c_proj.G", e.tensorName());
            assertTrue(e.getMessage().contains("h.7.mlp.c_proj.G") && e.getMessage().contains("[2, 3]")
                    && e.getMessage().contains("eigendecomposition"), e.getMessage());
            matrix.set(Double.POSITIVE_INFINITY, 2, 3);
            var inf = assertThrows(NonFiniteTensorException.class, () -> backend.eigh(arena, matrix, true));
            assertTrue(inf.getMessage().contains("1 infinite"), inf.getMessage());
        }
    }
}
