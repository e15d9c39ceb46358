package dev.curvature.engine;

/**
 * Sums and dot products over a row held in a double[] with eight running partial sums instead of one. One
 * accumulator makes every add wait for the one before (4 cycles each on current x86 cores): a 50,257-entry vocabulary
 * row took ~75 µs per sum. Eight independent chains keep the adders busy. The partials are combined pairwise,
 * ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)), then the tail is added in order; the result depends only on n,
 * never on threads or timing, and its rounding error bound is that of the one-accumulator loop or better.
 */
final class RowSums {
    private RowSums() {
    }

    /** Σ a[from, from + n). */
    static double sum(double[] a, int from, int n) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        int i = from;
        int end = from + n;
        for (; i + 7 < end; i += 8) {
            s0 += a[i];
            s1 += a[i + 1];
            s2 += a[i + 2];
            s3 += a[i + 3];
            s4 += a[i + 4];
            s5 += a[i + 5];
            s6 += a[i + 6];
            s7 += a[i + 7];
        }
        double s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
        for (; i < end; i++) {
            s += a[i];
        }
        return s;
    }

    /** Σ a[i]·b[i] over [0, n). */
    static double dot(double[] a, double[] b, int n) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        int i = 0;
        for (; i + 7 < n; i += 8) {
            s0 += a[i] * b[i];
            s1 += a[i + 1] * b[i + 1];
            s2 += a[i + 2] * b[i + 2];
            s3 += a[i + 3] * b[i + 3];
            s4 += a[i + 4] * b[i + 4];
            s5 += a[i + 5] * b[i + 5];
            s6 += a[i + 6] * b[i + 6];
            s7 += a[i + 7] * b[i + 7];
        }
        double s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
        for (; i < n; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    /** Σ a[i]·b[i]·c[i] over [0, n), each product taken left to right. */
    static double dot3(double[] a, double[] b, double[] c, int n) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        int i = 0;
        for (; i + 7 < n; i += 8) {
            s0 += a[i] * b[i] * c[i];
            s1 += a[i + 1] * b[i + 1] * c[i + 1];
            s2 += a[i + 2] * b[i + 2] * c[i + 2];
            s3 += a[i + 3] * b[i + 3] * c[i + 3];
            s4 += a[i + 4] * b[i + 4] * c[i + 4];
            s5 += a[i + 5] * b[i + 5] * c[i + 5];
            s6 += a[i + 6] * b[i + 6] * c[i + 6];
            s7 += a[i + 7] * b[i + 7] * c[i + 7];
        }
        double s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
        for (; i < n; i++) {
            s += a[i] * b[i] * c[i];
        }
        return s;
    }

    /** Σ (a[i] − shift)² over [0, n): the variance numerator about a mean already computed. */
    static double squaredDeviations(double[] a, int n, double shift) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        int i = 0;
        for (; i + 7 < n; i += 8) {
            double d0 = a[i] - shift;
            double d1 = a[i + 1] - shift;
            double d2 = a[i + 2] - shift;
            double d3 = a[i + 3] - shift;
            double d4 = a[i + 4] - shift;
            double d5 = a[i + 5] - shift;
            double d6 = a[i + 6] - shift;
            double d7 = a[i + 7] - shift;
            s0 += d0 * d0;
            s1 += d1 * d1;
            s2 += d2 * d2;
            s3 += d3 * d3;
            s4 += d4 * d4;
            s5 += d5 * d5;
            s6 += d6 * d6;
            s7 += d7 * d7;
        }
        double s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
        for (; i < n; i++) {
            double d = a[i] - shift;
            s += d * d;
        }
        return s;
    }
}
