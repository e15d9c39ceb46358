package dev.curvature.kfac;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The search behind {@link CurvatureMassSelection}: the shortest prefix S of all pairs (i, j), ordered by
 * Π_ij = λ_iμ_j descending and then by (i, j) ascending, whose mass Σ_S Π reaches a target T; and, in
 * {@link #topCount}, the prefix of that order with exactly n pairs (the count-based curvature bands of
 * {@link CurvatureBand}).
 *
 * <p>Decisions are exact: Π_ij is the real product of the two doubles (not its rounding), masses are compared
 * with T as real numbers. The fast path works in double with a proven error bound (relative ≈ 2(p+q)·2⁻⁵³) and
 * falls back to {@link BigDecimal} only when a mass lies within that bound of T, when the number of tied pairs to
 * take is within it of an integer, or when products lie below 2⁻⁹⁶⁸ (where the rounding error of a product is no
 * longer representable). Such steps are rare on measured spectra and common on few-valued ones; at layer size
 * (11008×4096) one exact mass costs on the order of 0.1 s.
 *
 * <p>Algorithm: bisection on a threshold τ over the product values. The bracket is (τ_lo, τ_hi): every value
 * above τ_hi has too little mass (mass{Π ≥ τ_hi} &lt; T), τ_lo has enough (mass{Π &gt; τ_lo} ≥ T). The candidates
 * (pairs with τ_lo &lt; Π &lt; τ_hi) form in each row i one run of columns [lower_i, upper_i), because μ is sorted.
 * Each step takes τ = the product of a candidate pair drawn uniformly (fixed seed), and computes with one
 * two-pointer sweep over the rows (O(p + q)) the counts #{j : Π_ij &gt; τ}, #{j : Π_ij ≥ τ} and their masses
 * Σ_i λ_i·(μ_0 + … + μ_{k_i−1}) from prefix sums of μ. The bracket closes on τ or the step stops at τ* with
 * mass{Π &gt; τ*} &lt; T ≤ mass{Π ≥ τ*}. Taking τ from the candidates rather than halving a double interval is what
 * makes the bisection exact: products are 106-bit numbers, many of them can fall inside one double ulp, and the
 * candidate count halves (in expectation) however the values cluster. Expected steps ≈ 2 ln(p·q).
 */
final class ProductThresholdSearch {
    /** Above this, fma(λ, μ, −fl(λμ)) is the exact rounding error of the product; below it may underflow. */
    private static final double SAFE_PRODUCT = 0x1p-968;
    private static final double UNIT_ROUNDOFF = 0x1p-53;
    private static final long PIVOT_SEED = 0x5EED_2510_24256L;

    /**
     * What the search found.
     *
     * @param rowLengths         row i of S is the columns [0, rowLengths[i]) (non-increasing)
     * @param thresholdProduct   τ*, rounded to double; +∞ when S is empty
     * @param tiedPairs          the pairs whose exact product is τ*
     * @param tiedPairsSelected  how many of them are in S (the first ones in (i, j) order)
     * @param selectedMass       Σ_S Π in double
     * @param remainingMass      Σ_{not S} Π in double (summed on its own, not as M − selectedMass)
     */
    record Outcome(int[] rowLengths, double thresholdProduct, long tiedPairs, long tiedPairsSelected,
                   double selectedMass, double remainingMass) {
    }

    private final double[] lambda;
    private final double[] mu;
    private final int p;
    private final int q;
    private final double target;
    /** muPrefix[k] = μ_0 + … + μ_{k−1} in double, in index order. */
    private final double[] muPrefix;
    private final double relativeError;
    private final double absoluteError;

    /** Candidate columns of row i: [lower[i], upper[i]); both non-increasing in i. */
    private final int[] lower;
    private final int[] upper;
    /** For the current pivot τ: greater[i] = #{j : Π_ij &gt; τ}, atLeast[i] = #{j : Π_ij ≥ τ}. */
    private final int[] greater;
    private final int[] atLeast;
    private double greaterMass;
    private double atLeastMass;

    private double pivotHigh;
    private double pivotLow;
    private int pivotRow;
    private int pivotColumn;
    private BigDecimal pivotExact;

    private BigDecimal exactTarget;
    private BigDecimal[] exactLambda;
    /** exactMuPrefix[k] = μ_0 + … + μ_{k−1} exactly. */
    private BigDecimal[] exactMuPrefix;

    private ProductThresholdSearch(double[] lambda, double[] mu, double target) {
        this.lambda = lambda;
        this.mu = mu;
        this.p = lambda.length;
        this.q = mu.length;
        this.target = target;
        muPrefix = new double[q + 1];
        for (int j = 0; j < q; j++) {
            muPrefix[j + 1] = muPrefix[j] + mu[j];
        }
        // A mass Σ_i λ_i·muPrefix[k_i] is p + q roundings of non-negative terms away from the exact one:
        // relative error ≤ γ_{p+q} = (p+q)u / (1 − (p+q)u); doubled for margin. Underflow adds at most half the
        // smallest subnormal per operation, scaled by λ where it enters the prefix sums.
        double n = p + q + 4.0;
        relativeError = 2 * n * UNIT_ROUNDOFF / (1 - n * UNIT_ROUNDOFF);
        absoluteError = 2 * (DescendingSpectrum.sum(lambda) * (q + 1) + p + 1) * Double.MIN_VALUE;
        lower = new int[p];
        upper = new int[p];
        greater = new int[p];
        atLeast = new int[p];
    }

    /**
     * The pairwise selection at keep-mass ρ for validated, descending, non-negative λ (p) and μ (q):
     * ρ = 1 selects every pair; otherwise T = ρ·M with M = (Σλ)(Σμ), all three roundings in double and the sums
     * in index order; T = 0 selects nothing, and a T that even the whole grid misses (possible only for ρ within
     * about (p+q)·2⁻⁵³ of 1) selects every pair.
     */
    static Outcome select(double[] lambda, double[] mu, double rho) {
        double target = rho * (DescendingSpectrum.sum(lambda) * DescendingSpectrum.sum(mu));
        ProductThresholdSearch search = new ProductThresholdSearch(lambda, mu, target);
        if (rho == 1) {
            return search.everything();
        }
        if (target <= 0) {
            return search.outcome(new int[lambda.length], Double.POSITIVE_INFINITY, 0, 0);
        }
        return search.search();
    }

    /**
     * The first n pairs of the order Π_ij descending, then (i, j) ascending, for validated, descending, non-negative
     * λ (p) and μ (q), as the row lengths of a staircase (row i keeps [0, k_i), Σ k_i = n exactly). Zero products
     * are ordinary members of the order (they come last), so every n in [0, p·q] has its exact set.
     *
     * <p>The same bisection as the mass search with a count in place of the mass: the bracket closes on the product
     * τ* of the n-th pair, #{Π &gt; τ*} &lt; n ≤ #{Π ≥ τ*}, and the n − #{Π &gt; τ*} tied pairs taken are the first in
     * (i, j) order. Counts are integers, so no step needs the exact-arithmetic fallback (the pair comparisons stay
     * exact). O(p + q) memory and about 2 ln(p·q) sweeps of O(p + q).
     */
    static int[] topCount(double[] lambda, double[] mu, long n) {
        int p = lambda.length;
        int q = mu.length;
        long pairs = (long) p * q;
        if (n < 0 || n > pairs) {
            throw new IllegalArgumentException("cannot take the top " + n + " of " + p + "×" + q + " = " + pairs
                    + " pairs");
        }
        int[] lengths = new int[p];
        if (n == pairs) {
            Arrays.fill(lengths, q);
        }
        if (n == 0 || n == pairs) {
            return lengths;
        }
        // the mass target is not used by the count search
        return new ProductThresholdSearch(lambda, mu, 0).searchCount(n);
    }

    private int[] searchCount(long n) {
        // Start: every pair, zero products included, is a candidate (τ_lo below every product, τ_hi = +∞).
        Arrays.fill(lower, 0);
        Arrays.fill(upper, q);
        SplittableRandom random = new SplittableRandom(PIVOT_SEED);
        while (true) {
            choosePivot(random);
            countAround(pivotRow, pivotColumn);
            long greaterCount = 0;
            long atLeastCount = 0;
            for (int i = 0; i < p; i++) {
                greaterCount += greater[i];
                atLeastCount += atLeast[i];
            }
            if (atLeastCount < n) {
                // τ* < τ: drop τ and everything above it
                System.arraycopy(atLeast, 0, lower, 0, p);
            } else if (greaterCount >= n) {
                // τ* > τ: drop τ and everything below it
                System.arraycopy(greater, 0, upper, 0, p);
            } else {
                return withFirstTies(n - greaterCount);
            }
        }
    }

    private Outcome search() {
        // Start: τ_hi = +∞, τ_lo = 0, so the candidates are the pairs with a positive product.
        int positiveMu = 0;
        while (positiveMu < q && mu[positiveMu] > 0) {
            positiveMu++;
        }
        for (int i = 0; i < p; i++) {
            upper[i] = lambda[i] > 0 ? positiveMu : 0;
        }
        if (compareWithTarget(massOf(upper), upper) < 0) {
            return everything();
        }
        SplittableRandom random = new SplittableRandom(PIVOT_SEED);
        while (true) {
            choosePivot(random);
            countAround(pivotRow, pivotColumn);
            if (compareWithTarget(atLeastMass, atLeast) < 0) {
                // τ* < τ: drop τ and everything above it
                System.arraycopy(atLeast, 0, lower, 0, p);
            } else if (compareWithTarget(greaterMass, greater) >= 0) {
                // τ* > τ: drop τ and everything below it
                System.arraycopy(greater, 0, upper, 0, p);
            } else {
                return fillTies();
            }
        }
    }

    /** Picks a candidate pair uniformly; τ* itself is always a candidate, so there is one. */
    private void choosePivot(SplittableRandom random) {
        long candidates = 0;
        for (int i = 0; i < p && upper[i] > 0; i++) {
            candidates += upper[i] - lower[i];
        }
        if (candidates <= 0) {
            throw new IllegalStateException("product threshold search lost its target: no candidate pairs left");
        }
        long r = random.nextLong(candidates);
        for (int i = 0; ; i++) {
            long inRow = upper[i] - lower[i];
            if (r < inRow) {
                pivotRow = i;
                pivotColumn = lower[i] + (int) r;
                return;
            }
            r -= inRow;
        }
    }

    /**
     * The two-pointer sweep for τ = λ_aμ_b: greater[i], atLeast[i] and their masses. Both counts are
     * non-increasing in i (λ is sorted), so each pointer starts where the previous row left it and only moves
     * left: O(p + q) product comparisons in all.
     */
    private void countAround(int a, int b) {
        pivotRow = a;
        pivotColumn = b;
        pivotHigh = lambda[a] * mu[b];
        pivotLow = Math.fma(lambda[a], mu[b], -pivotHigh);
        pivotExact = null;
        int g = q;
        int e = q;
        double gMass = 0;
        double eMass = 0;
        int i = 0;
        for (; i < p; i++) {
            int up = upper[i];
            if (up == 0) {
                break;
            }
            int lo = lower[i];
            g = Math.min(g, up);
            while (g > lo && !above(i, g - 1)) {
                g--;
            }
            e = Math.min(e, up);
            while (e > g && !atLeastPivot(i, e - 1)) {
                e--;
            }
            greater[i] = g;
            atLeast[i] = e;
            gMass += lambda[i] * muPrefix[g];
            eMass += lambda[i] * muPrefix[e];
        }
        // upper is non-increasing: the remaining rows have no pair above τ_lo
        Arrays.fill(greater, i, p, 0);
        Arrays.fill(atLeast, i, p, 0);
        greaterMass = gMass;
        atLeastMass = eMass;
    }

    /** λ_iμ_j &gt; τ, exactly. */
    private boolean above(int i, int j) {
        double h = lambda[i] * mu[j];
        // rounding is monotone: different rounded products order their exact values
        return h != pivotHigh ? h > pivotHigh : compareWithPivotRounded(i, j) > 0;
    }

    /** λ_iμ_j ≥ τ, exactly. */
    private boolean atLeastPivot(int i, int j) {
        double h = lambda[i] * mu[j];
        return h != pivotHigh ? h > pivotHigh : compareWithPivotRounded(i, j) >= 0;
    }

    /** Sign of λ_iμ_j − τ when fl(λ_iμ_j) = fl(τ): compares the exact rounding errors. */
    private int compareWithPivotRounded(int i, int j) {
        if (pivotHigh >= SAFE_PRODUCT) {
            double low = Math.fma(lambda[i], mu[j], -pivotHigh);
            return low > pivotLow ? 1 : low < pivotLow ? -1 : 0;
        }
        return new BigDecimal(lambda[i]).multiply(new BigDecimal(mu[j])).compareTo(pivotExact());
    }

    private BigDecimal pivotExact() {
        if (pivotExact == null) {
            pivotExact = new BigDecimal(lambda[pivotRow]).multiply(new BigDecimal(mu[pivotColumn]));
        }
        return pivotExact;
    }

    /**
     * S = the pairs above τ* plus the first t pairs equal to τ* in (i, j) order, t the smallest count reaching T.
     * Within a row the pairs equal to τ* are the columns [greater_i, atLeast_i), right after the pairs above it,
     * so filling rows in order keeps every row a prefix: rows before the last filled one take all their ties,
     * that row takes part, later rows none. The row lengths stay non-increasing.
     */
    private Outcome fillTies() {
        long ties = 0;
        for (int i = 0; i < p; i++) {
            ties += atLeast[i] - greater[i];
        }
        long needed = ties == 1 ? 1 : tiesNeeded(ties);
        if (needed < 1 || needed > ties) {
            throw new IllegalStateException("tie fill at τ* = " + pivotHigh + " needs " + needed + " of " + ties
                    + " tied pairs");
        }
        return outcome(withFirstTies(needed), pivotHigh, ties, needed);
    }

    /**
     * Row lengths of the pairs above the current pivot plus the first {@code needed} pairs equal to it in (i, j)
     * order: rows before the last filled one take all their ties, that row takes part, later rows none.
     */
    private int[] withFirstTies(long needed) {
        int[] lengths = new int[p];
        long remaining = needed;
        for (int i = 0; i < p; i++) {
            int take = (int) Math.min(atLeast[i] - greater[i], remaining);
            lengths[i] = greater[i] + take;
            remaining -= take;
        }
        return lengths;
    }

    /** The smallest t with mass{Π &gt; τ*} + t·τ* ≥ T, i.e. ⌈(T − mass{Π &gt; τ*}) / τ*⌉. */
    private long tiesNeeded(long ties) {
        if (pivotHigh >= SAFE_PRODUCT) {
            double gap = target - greaterMass;
            // slack: the error bound of greaterMass plus the roundings of the two subtractions
            double slack = massSlack(greaterMass) + 4 * UNIT_ROUNDOFF * (target + greaterMass);
            long least = Math.max(1, (long) Math.ceil((gap - slack) / pivotHigh * (1 - 8 * UNIT_ROUNDOFF)));
            long most = (long) Math.ceil((gap + slack) / pivotHigh * (1 + 8 * UNIT_ROUNDOFF));
            if (least == most && most <= ties) {
                return least;
            }
        }
        BigDecimal gap = exactTarget().subtract(exactMass(greater));
        return gap.divide(pivotExact(), 0, RoundingMode.CEILING).longValueExact();
    }

    /** Every pair; the boundary is the smallest product λ_{p−1}μ_{q−1} and its tie class. */
    private Outcome everything() {
        Arrays.fill(lower, 0);
        Arrays.fill(upper, q);
        countAround(p - 1, q - 1);
        long ties = 0;
        for (int i = 0; i < p; i++) {
            ties += atLeast[i] - greater[i];
        }
        int[] lengths = new int[p];
        Arrays.fill(lengths, q);
        return outcome(lengths, pivotHigh, ties, ties);
    }

    private Outcome outcome(int[] lengths, double threshold, long ties, long tiesSelected) {
        double[] muSuffix = new double[q + 1];
        for (int j = q - 1; j >= 0; j--) {
            muSuffix[j] = muSuffix[j + 1] + mu[j];
        }
        double outside = 0;
        for (int i = 0; i < p; i++) {
            outside += lambda[i] * muSuffix[lengths[i]];
        }
        return new Outcome(lengths, threshold, ties, tiesSelected, massOf(lengths), outside);
    }

    /** Σ_i λ_i·(μ_0 + … + μ_{k_i−1}) in double. */
    private double massOf(int[] rowLengths) {
        double m = 0;
        for (int i = 0; i < p; i++) {
            m += lambda[i] * muPrefix[rowLengths[i]];
        }
        return m;
    }

    private double massSlack(double estimate) {
        return relativeError * estimate + absoluteError;
    }

    /** Exact sign of mass(rowLengths) − T, given its double estimate. */
    private int compareWithTarget(double estimate, int[] rowLengths) {
        double slack = massSlack(estimate);
        if (estimate - target > slack) {
            return 1;
        }
        if (target - estimate > slack) {
            return -1;
        }
        return exactMass(rowLengths).compareTo(exactTarget());
    }

    private BigDecimal exactTarget() {
        if (exactTarget == null) {
            exactTarget = new BigDecimal(target);
        }
        return exactTarget;
    }

    /** Σ_i λ_i·(μ_0 + … + μ_{k_i−1}) exactly; rows of equal length share one multiplication. */
    private BigDecimal exactMass(int[] rowLengths) {
        if (exactLambda == null) {
            exactLambda = new BigDecimal[p];
            for (int i = 0; i < p; i++) {
                exactLambda[i] = new BigDecimal(lambda[i]);
            }
            exactMuPrefix = new BigDecimal[q + 1];
            exactMuPrefix[0] = BigDecimal.ZERO;
            for (int j = 0; j < q; j++) {
                exactMuPrefix[j + 1] = exactMuPrefix[j].add(new BigDecimal(mu[j]));
            }
        }
        BigDecimal total = BigDecimal.ZERO;
        BigDecimal lambdaRun = BigDecimal.ZERO;
        int length = 0;
        for (int i = 0; i < p; i++) {
            if (rowLengths[i] != length) {
                if (length > 0) {
                    total = total.add(lambdaRun.multiply(exactMuPrefix[length]));
                }
                lambdaRun = BigDecimal.ZERO;
                length = rowLengths[i];
            }
            if (length > 0) {
                lambdaRun = lambdaRun.add(exactLambda[i]);
            }
        }
        if (length > 0) {
            total = total.add(lambdaRun.multiply(exactMuPrefix[length]));
        }
        return total;
    }
}
