package dev.curvature.kfac;

import java.util.Arrays;
import java.util.BitSet;
import java.util.Objects;

/**
 * The EK-FAC edit's selection (ALGORITHMS.md §4): with Λ (p×q) the corrected eigenvalues of a layer in its K-FAC
 * eigenbasis, S is the set of components u_i v_jᵀ of largest Λ_ij whose mass Σ_S Λ reaches ρ·ΣΛ — the K-FAC rule
 * of {@link CurvatureMassSelection} with Λ_ij in place of λ_i μ_j. Λ has no product structure, so S is not a
 * staircase: it is found by a full sort of the p·q values and returned as {@link ScatteredComponents}.
 *
 * <p><b>Definition.</b> Pairs are ordered by Λ_ij descending, ties by row-major index i·q + j ascending; S is the
 * shortest prefix of that order whose mass (summed in that order, in double) is ≥ fl(ρ · ΣΛ), ΣΛ summed in the same
 * order. ρ = 0 selects nothing, ρ = 1 every pair (zero ones included), so keeping at ρ = 1 leaves W as it is.
 * Zero pairs are never selected for ρ &lt; 1. {@link #ablate} keeps the complement.
 *
 * @param mode      which side of S the edit keeps
 * @param rho       the mass fraction ρ ∈ [0, 1]
 * @param kept      the components kept: S (KEEP) or its complement (ABLATE)
 * @param keptMass  Σ_kept Λ
 * @param totalMass ΣΛ
 */
public record CorrectedMassSelection(CurvatureMassSelection.Mode mode, double rho, ScatteredComponents kept,
                                     double keptMass, double totalMass) {
    public CorrectedMassSelection {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(kept, "kept");
    }

    /** S: the largest-Λ pairs holding a fraction ρ of ΣΛ. {@code lambda} is row-major p·q, finite, ≥ 0. */
    public static CorrectedMassSelection keep(double[] lambda, int rows, int columns, double rho) {
        return select(CurvatureMassSelection.Mode.KEEP, lambda, rows, columns, rho);
    }

    /** Every pair except S. */
    public static CorrectedMassSelection ablate(double[] lambda, int rows, int columns, double rho) {
        return select(CurvatureMassSelection.Mode.ABLATE, lambda, rows, columns, rho);
    }

    /** {@link #keep} or {@link #ablate}. */
    public static CorrectedMassSelection select(CurvatureMassSelection.Mode mode, double[] lambda, int rows,
                                                int columns, double rho) {
        Objects.requireNonNull(mode, "mode");
        DescendingSpectrum.requireFraction("rho", rho);
        double[] descending = sortedDescending(lambda, rows, columns);
        double total = 0;
        for (double v : descending) {
            total += v;
        }
        long count;
        if (rho == 1.0) {
            count = descending.length;
        } else {
            double target = rho * total;
            double mass = 0;
            count = 0;
            while (mass < target && count < descending.length) {
                mass += descending[(int) count++];
            }
        }
        ScatteredComponents top = firstInOrder(lambda, descending, rows, columns, count);
        double mass = 0;
        for (int k = 0; k < count; k++) {
            mass += descending[k];
        }
        return mode == CurvatureMassSelection.Mode.KEEP
                ? new CorrectedMassSelection(mode, rho, top, mass, total)
                : new CorrectedMassSelection(mode, rho, top.complement(), total - mass, total);
    }

    /**
     * The first {@code count} pairs in the order above (largest Λ first, ties in row-major order): the EK-FAC
     * choice when a budget fixes how many components are kept, not their mass.
     */
    public static ScatteredComponents top(double[] lambda, int rows, int columns, long count) {
        if (count < 0 || count > (long) rows * columns) {
            throw new IllegalArgumentException("cannot keep " + count + " of " + rows + "×" + columns + " components");
        }
        return firstInOrder(lambda, sortedDescending(lambda, rows, columns), rows, columns, count);
    }

    /** Σ_{(i, j) ∈ set} Λ_ij / ΣΛ. */
    public static double massFraction(double[] lambda, ScatteredComponents set) {
        double kept = 0;
        for (long at = set.first(); at >= 0; at = set.next(at)) {
            kept += lambda[(int) at];
        }
        double total = 0;
        for (double v : lambda) {
            total += v;
        }
        return total == 0 ? 0 : kept / total;
    }

    private static double[] sortedDescending(double[] lambda, int rows, int columns) {
        if ((long) rows * columns != lambda.length) {
            throw new IllegalArgumentException("corrected eigenvalues: " + lambda.length + " values for a " + rows
                    + "×" + columns + " layer");
        }
        for (int k = 0; k < lambda.length; k++) {
            if (!(lambda[k] >= 0) || Double.isInfinite(lambda[k])) {
                throw new IllegalArgumentException("corrected eigenvalue Λ[" + k / columns + ", " + k % columns
                        + "] = " + lambda[k] + " is not a finite value ≥ 0");
            }
        }
        double[] sorted = lambda.clone();
        Arrays.sort(sorted);
        for (int a = 0, b = sorted.length - 1; a < b; a++, b--) {
            double t = sorted[a];
            sorted[a] = sorted[b];
            sorted[b] = t;
        }
        return sorted;
    }

    /** The first count pairs: all above τ = descending[count − 1], then the first ties at τ in row-major order. */
    private static ScatteredComponents firstInOrder(double[] lambda, double[] descending, int rows, int columns,
                                                    long count) {
        BitSet bits = new BitSet(lambda.length);
        if (count > 0) {
            double threshold = descending[(int) count - 1];
            long above = 0;
            for (int k = 0; k < count; k++) {
                above += descending[k] > threshold ? 1 : 0;
            }
            long ties = count - above;
            for (int k = 0; k < lambda.length; k++) {
                if (lambda[k] > threshold) {
                    bits.set(k);
                } else if (lambda[k] == threshold && ties > 0) {
                    bits.set(k);
                    ties--;
                }
            }
        }
        return ScatteredComponents.ofBits(rows, columns, bits);
    }
}
