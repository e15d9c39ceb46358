package dev.curvature.kfac;

import java.util.Objects;

/** Checks of the eigenvalue arrays and keep-mass fractions that the selection rules accept. */
final class DescendingSpectrum {
    static final String LAMBDA = "lambda (eigenvalues of G)";
    static final String MU = "mu (eigenvalues of A)";

    private DescendingSpectrum() {
    }

    /**
     * Fails unless values is non-empty, finite, non-negative and sorted descending; the message names the array,
     * the index and the value. (eigh's tiny negative eigenvalues must be clipped to 0 by the caller: neg×neg
     * products would otherwise count as spurious curvature mass.)
     */
    static void require(String name, double[] values) {
        Objects.requireNonNull(values, name);
        if (values.length == 0) {
            throw new IllegalArgumentException(name + " is empty");
        }
        for (int i = 0; i < values.length; i++) {
            double v = values[i];
            if (!Double.isFinite(v)) {
                throw new IllegalArgumentException(name + "[" + i + "] = " + v + " is not finite");
            }
            if (v < 0) {
                throw new IllegalArgumentException(name + "[" + i + "] = " + v
                        + " is negative (clip eigh's tiny negative eigenvalues to 0 before selecting)");
            }
            if (i > 0 && v > values[i - 1]) {
                throw new IllegalArgumentException(name + " is not sorted descending: [" + i + "] = " + v + " > ["
                        + (i - 1) + "] = " + values[i - 1] + " (sort the eigenvalues with their eigenvector columns)");
            }
        }
    }

    /** Fails unless rho is in [0, 1]; the message names the parameter and the value (NaN included). */
    static void requireFraction(String name, double rho) {
        if (!(rho >= 0 && rho <= 1)) {
            throw new IllegalArgumentException(name + " = " + rho + " is outside [0, 1]");
        }
    }

    /** Σ values in double, added in index order (the order is part of the definition of the mass target). */
    static double sum(double[] values) {
        double s = 0;
        for (double v : values) {
            s += v;
        }
        return s;
    }
}
