package dev.curvature.engine;

import dev.curvature.bindings.lapacke.Lapacke;
import dev.curvature.bindings.openblas.OpenBlas;
import dev.curvature.bindings.openblas.OpenBlasThreadTimeout;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * What this machine offers the engine (runtime, native libraries, threads) and a quick numerical self-check of
 * the CPU backend against naive float64 loops — the first thing to run on a new machine.
 *
 * @param java        Java runtime version and vendor
 * @param cores       available processors
 * @param threads     threads the backend uses
 * @param openBlas    OpenBLAS build string
 * @param openBlasLibrary where OpenBLAS was loaded from
 * @param lapackeLibrary  where LAPACKE was loaded from
 * @param expKernel   which exponential the element-wise kernels use (Vector API or scalar, and why)
 * @param checks      the self-check results
 */
public record EnvironmentReport(String java, int cores, int threads, String openBlas, String openBlasLibrary,
                                String lapackeLibrary, String expKernel, List<Check> checks) {

    /** One self-check: what was compared, the error found and the tolerance it must meet. */
    public record Check(String name, double error, double tolerance, boolean passed) {
    }

    /** Loads the libraries, runs the checks with {@code threads} threads (null: the backend's default). */
    public static EnvironmentReport collect(Integer threads) {
        try (CpuBackend backend = threads == null ? new CpuBackend() : new CpuBackend(threads);
             Arena arena = Arena.ofShared()) {
            List<Check> checks = new ArrayList<>();
            Random random = new Random(1);
            for (DType dtype : new DType[]{DType.F32, DType.F64}) {
                checks.add(gemmCheck(backend, arena, random, dtype));
            }
            checks.add(covarianceCheck(backend, arena, random));
            checks.add(eigenCheck(backend, arena, random));
            OpenBlas blas = OpenBlas.get();
            return new EnvironmentReport(Runtime.version() + " (" + System.getProperty("java.vendor") + ")",
                    Runtime.getRuntime().availableProcessors(), backend.threads(), blas.config().trim(),
                    blas.openedAs(), Lapacke.get().openedAs(), ExpKernel.description(), List.copyOf(checks));
        }
    }

    /** Whether every self-check met its tolerance. */
    public boolean selfCheckPassed() {
        return checks.stream().allMatch(Check::passed);
    }

    /** A human-readable table. */
    public String toTable() {
        StringBuilder b = new StringBuilder();
        b.append(String.format("%-18s %s%n", "java", java));
        b.append(String.format("%-18s %d (backend threads: %d)%n", "cores", cores, threads));
        b.append(String.format("%-18s %s%n", "openblas", openBlas));
        b.append(String.format("%-18s %s%n", "openblas library", openBlasLibrary));
        b.append(String.format("%-18s %s%n", "openblas spin", OpenBlasThreadTimeout.inEffect()));
        b.append(String.format("%-18s %s%n", "lapacke library", lapackeLibrary));
        b.append(String.format("%-18s %s%n", "exp kernel", expKernel));
        b.append("self-check (reference: naive float64 loops)\n");
        for (Check c : checks) {
            b.append(String.format("  %-40s error %.2e  tolerance %.0e  %s%n", c.name(), c.error(), c.tolerance(),
                    c.passed() ? "ok" : "FAILED"));
        }
        return b.toString();
    }

    private static Check check(String name, double error, double tolerance) {
        return new Check(name, error, tolerance, error <= tolerance);
    }

    private static double[] random(Random random, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = random.nextGaussian();
        }
        return v;
    }

    private static double relative(double[] expected, double[] actual) {
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < expected.length; i++) {
            diff += (actual[i] - expected[i]) * (actual[i] - expected[i]);
            norm += expected[i] * expected[i];
        }
        return Math.sqrt(diff / norm);
    }

    private static Check gemmCheck(CpuBackend backend, Arena arena, Random random, DType dtype) {
        int m = 65, n = 47, k = 129;
        Tensor a = Tensor.of(arena, dtype, random(random, k * m), k, m);
        Tensor b = Tensor.of(arena, dtype, random(random, k * n), k, n);
        Tensor c = backend.allocate(arena, dtype, m, n);
        backend.gemm(c, a, Transpose.TRANSPOSED, b, Transpose.NONE, 1.0, 0.0);
        double[] av = a.toDoubleArray();
        double[] bv = b.toDoubleArray();
        double[] expected = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    s += av[p * m + i] * bv[p * n + j];
                }
                expected[i * n + j] = s;
            }
        }
        return check("gemm " + dtype + " AᵀB " + m + "x" + n + "x" + k, relative(expected, c.toDoubleArray()),
                dtype == DType.F32 ? 1e-5 : 1e-12);
    }

    private static Check covarianceCheck(CpuBackend backend, Arena arena, Random random) {
        int d = 50, rows = 200;
        Tensor x = Tensor.of(arena, DType.F32, random(random, rows * d), rows, d);
        try (var acc = new CovarianceAccumulator(backend, d, CovariancePrecision.F32_WITH_F64_SUMS, "self-check")) {
            acc.accumulate(x, 1.0);
            acc.accumulate(x, 1.0);
            Tensor out = backend.allocate(arena, DType.F64, d, d);
            acc.readSymmetric(out, 1.0 / acc.rows());
            double[] xv = x.toDoubleArray();
            double[] expected = new double[d * d];
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < d; i++) {
                    for (int j = 0; j < d; j++) {
                        expected[i * d + j] += xv[r * d + i] * xv[r * d + j] / rows;
                    }
                }
            }
            return check("covariance F32 batches, F64 sums", relative(expected, out.toDoubleArray()), 1e-6);
        }
    }

    private static Check eigenCheck(CpuBackend backend, Arena arena, Random random) {
        int n = 64;
        double[] x = random(random, 2 * n * n);
        double[] spd = new double[n * n];
        for (int r = 0; r < 2 * n; r++) {
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    spd[i * n + j] += x[r * n + i] * x[r * n + j];
                }
            }
        }
        SymmetricEigen eig = backend.eigh(arena, Tensor.of(arena, DType.F64, spd, n, n).named("self-check"), true);
        double error = Math.max(eig.quality().residual(), eig.quality().orthogonality());
        return check("eigh F64 n=64 (residual, orthogonality)", error, 1e-12);
    }
}
