package dev.curvature.kfac;

import java.util.Arrays;
import java.util.Random;

/** Seeded eigenvalue spectra for the selection tests: smooth, power-law, and tie-heavy ones with zeros. */
final class RandomSpectra {
    /** Values like those of a small integer-valued or few-valued factor: many exact ties. */
    private static final double[] FEW_VALUES = {0, 0.5, 1, 2, 3};
    private static final double[] MOSTLY_ZERO = {0, 0, 0, 1, 2};
    /** Products of two of these underflow into subnormals or to zero. */
    private static final double[] TINY = {0, 1e-170, 1e-160, 2.5e-160, 1};
    /** Values one or two ulps apart: exact products differ where their roundings are equal. */
    private static final double[] NEAR_TIES = {1, 1 + 0x1p-52, 1 + 0x1p-51, 1 + 3 * 0x1p-52, 1 - 0x1p-53};

    private RandomSpectra() {
    }

    /** n values, sorted descending, of a randomly chosen kind. */
    static double[] spectrum(Random random, int n) {
        double[] v = new double[n];
        switch (random.nextInt(8)) {
            case 0 -> {
                for (int k = 0; k < n; k++) {
                    v[k] = 1 - random.nextDouble();
                }
            }
            case 1 -> {
                double exponent = 0.5 + 1.5 * random.nextDouble();
                for (int k = 0; k < n; k++) {
                    v[k] = Math.pow(k + 1, -exponent) * Math.exp(0.3 * random.nextGaussian());
                }
            }
            case 2 -> fill(random, v, FEW_VALUES);
            case 3 -> Arrays.fill(v, random.nextBoolean() ? 1.0 : 0.7);
            case 4 -> fill(random, v, MOSTLY_ZERO);
            case 5 -> fill(random, v, TINY);
            case 6 -> fill(random, v, NEAR_TIES);
            default -> {
                for (int k = 0; k < n; k++) {
                    v[k] = 1 + random.nextInt(4);
                }
            }
        }
        return descending(v);
    }

    /** ρ: uniform, dyadic k/16 (exact mass boundaries on few-valued spectra), k/10, 0, 1, or close to 0 or 1. */
    static double rho(Random random) {
        return switch (random.nextInt(8)) {
            case 0, 1 -> random.nextDouble();
            case 2, 3 -> random.nextInt(17) / 16.0;
            case 4 -> random.nextInt(11) / 10.0;
            case 5 -> 0;
            case 6 -> 1;
            default -> random.nextBoolean() ? 1e-9 : 1 - 1e-15;
        };
    }

    static double[] descending(double[] v) {
        double[] sorted = v.clone();
        Arrays.sort(sorted);
        for (int a = 0, b = sorted.length - 1; a < b; a++, b--) {
            double t = sorted[a];
            sorted[a] = sorted[b];
            sorted[b] = t;
        }
        return sorted;
    }

    private static void fill(Random random, double[] v, double[] values) {
        for (int k = 0; k < v.length; k++) {
            v[k] = values[random.nextInt(values.length)];
        }
    }
}
