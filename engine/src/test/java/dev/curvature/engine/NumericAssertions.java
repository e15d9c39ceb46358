package dev.curvature.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** Error norms and assertions shared by the tests of every module (published in the engine's test-jar). */
public final class NumericAssertions {
    private NumericAssertions() {
    }

    /** ‖actual − expected‖_F / ‖expected‖_F (absolute when expected is all zero). */
    public static double relativeError(double[] expected, double[] actual) {
        assertEquals(expected.length, actual.length, "length");
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < expected.length; i++) {
            double d = actual[i] - expected[i];
            diff += d * d;
            norm += expected[i] * expected[i];
        }
        return norm == 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
    }

    /** Fails unless the relative Frobenius error of {@code actual} against {@code expected} is ≤ tolerance. */
    public static void assertRelativeError(double[] expected, double[] actual, double tolerance, String what) {
        double error = relativeError(expected, actual);
        if (!(error <= tolerance)) {
            fail(what + ": relative error " + error + " exceeds " + tolerance);
        }
    }

    /** Naive row-major C (m×n) = alpha·op(A)·op(B) + beta·C in double: the reference for GEMM. */
    public static double[] naiveGemm(double[] a, boolean transA, double[] b, boolean transB, double[] c,
                                     int m, int n, int k, double alpha, double beta) {
        double[] out = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    double av = transA ? a[p * m + i] : a[i * k + p];
                    double bv = transB ? b[j * k + p] : b[p * n + j];
                    s += av * bv;
                }
                out[i * n + j] = alpha * s + (beta == 0 ? 0 : beta * c[i * n + j]);
            }
        }
        return out;
    }

    /**
     * Central finite differences (f(θ + h e_i) − f(θ − h e_i)) / 2h of a scalar {@code loss} with respect to every
     * element of the host tensor {@code parameter} (row-major order); the tensor is restored afterwards.
     */
    public static double[] finiteDifferences(Tensor parameter, java.util.function.DoubleSupplier loss, double h) {
        double[] original = parameter.toDoubleArray();
        long[] shape = parameter.shape();
        double[] gradient = new double[original.length];
        long[] index = new long[shape.length];
        for (int i = 0; i < original.length; i++) {
            long rest = i;
            for (int d = shape.length - 1; d >= 0; d--) {
                index[d] = rest % shape[d];
                rest /= shape[d];
            }
            parameter.set(original[i] + h, index);
            double plus = loss.getAsDouble();
            parameter.set(original[i] - h, index);
            double minus = loss.getAsDouble();
            parameter.set(original[i], index);
            gradient[i] = (plus - minus) / (2 * h);
        }
        return gradient;
    }

    /** Uniform values in [-1, 1) from a seeded generator. */
    public static double[] randomValues(java.util.Random random, int count) {
        double[] v = new double[count];
        for (int i = 0; i < count; i++) {
            v[i] = random.nextDouble() * 2 - 1;
        }
        return v;
    }

    /** The values of an integer-valued tensor (e.g. token ids stored as I32 in a fixture), as ints. */
    public static int[] intValues(Tensor t) {
        double[] v = t.toDoubleArray();
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (int) v[i];
        }
        return out;
    }
}
