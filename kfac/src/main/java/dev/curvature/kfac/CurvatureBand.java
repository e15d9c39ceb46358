package dev.curvature.kfac;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * A percentile band of a layer's curvature components (paper §4, ALGORITHMS.md §1.6): rank all p·q components
 * (i, j) by Π_ij = λ_iμ_j descending, ties by (i, j) ascending (the order of {@link CurvatureMassSelection}); the
 * band [from, to) holds the components whose rank r (0-based) satisfies ⌊from·pq⌋ ≤ r &lt; ⌊to·pq⌋.
 *
 * <p><b>Rounding.</b> The edges are read as the shortest decimals that name the doubles ({@link
 * BigDecimal#valueOf(double)}) and multiplied by p·q exactly, then floored: 0.29 of 100 pairs is rank 29, although
 * the double 0.29 is slightly below 0.29 and fl(0.29·100) = 28.999999999999996. Bands with shared edges therefore
 * partition the grid exactly, and a band's size is ⌊to·pq⌋ − ⌊from·pq⌋ (it can be 0 on a very small grid).
 *
 * <p><b>Shape.</b> The first n pairs of the order form a staircase (row i keeps [0, k_i), k_i non-increasing: μ is
 * sorted, so within a row the order is by column), and the staircase of n is inside that of n' ≥ n. A band is
 * their difference, one run of columns [k_i, k'_i) per row, a {@link ComponentMask}.
 *
 * @param from upper edge of the band in the ranking, a fraction in [0, 1) (0 = the largest curvature)
 * @param to   lower edge, a fraction in (from, 1]
 */
public record CurvatureBand(double from, double to) {
    /** Band edges of the paper's Fig. 2: top 10 %, 10–25 %, 25–50 %, bottom 50 %. */
    public static final List<CurvatureBand> DEFAULTS = fromEdges(0, 0.10, 0.25, 0.50, 1);

    public CurvatureBand {
        if (!(from >= 0 && from < to && to <= 1)) {
            throw new IllegalArgumentException("curvature band [" + from + ", " + to + ") must satisfy 0 ≤ from < to"
                    + " ≤ 1");
        }
    }

    /** Consecutive bands [e_0, e_1), [e_1, e_2), …: edges strictly increasing in [0, 1]. */
    public static List<CurvatureBand> fromEdges(double... edges) {
        if (edges.length < 2) {
            throw new IllegalArgumentException("band edges need at least two values, got " + edges.length);
        }
        List<CurvatureBand> bands = new ArrayList<>();
        for (int k = 0; k + 1 < edges.length; k++) {
            bands.add(new CurvatureBand(edges[k], edges[k + 1]));
        }
        return List.copyOf(bands);
    }

    /** "top 10%", "10–25%", "bottom 50%" ("all" for [0, 1)). */
    public String label() {
        if (from == 0 && to == 1) {
            return "all";
        }
        if (from == 0) {
            return "top " + percent(BigDecimal.valueOf(to)) + "%";
        }
        if (to == 1) {
            return "bottom " + percent(BigDecimal.ONE.subtract(BigDecimal.valueOf(from))) + "%";
        }
        return percent(BigDecimal.valueOf(from)) + "–" + percent(BigDecimal.valueOf(to)) + "%";
    }

    private static String percent(BigDecimal fraction) {
        return fraction.movePointRight(2).stripTrailingZeros().toPlainString();
    }

    /** ⌊fraction·pairs⌋ with the fraction read as its shortest decimal (see the class comment). */
    public static long rank(double fraction, long pairs) {
        if (!(fraction >= 0 && fraction <= 1) || pairs < 0) {
            throw new IllegalArgumentException("rank of fraction " + fraction + " of " + pairs + " pairs");
        }
        return BigDecimal.valueOf(fraction).multiply(BigDecimal.valueOf(pairs)).setScale(0, RoundingMode.FLOOR)
                .longValueExact();
    }

    /** The first rank in the band: ⌊from·pairs⌋. */
    public long firstRank(long pairs) {
        return rank(from, pairs);
    }

    /** One past the last rank in the band: ⌊to·pairs⌋. */
    public long endRank(long pairs) {
        return rank(to, pairs);
    }

    /**
     * The masks of several bands, each staircase edge computed once.
     *
     * @throws IllegalArgumentException naming the array and index when a spectrum is not descending, finite, ≥ 0
     */
    public static List<ComponentMask> masks(double[] lambda, double[] mu, List<CurvatureBand> bands) {
        Objects.requireNonNull(bands, "bands");
        DescendingSpectrum.require(DescendingSpectrum.LAMBDA, lambda);
        DescendingSpectrum.require(DescendingSpectrum.MU, mu);
        double[] l = lambda.clone();
        double[] m = mu.clone();
        long pairs = (long) l.length * m.length;
        Map<Long, int[]> staircases = new TreeMap<>();
        List<ComponentMask> masks = new ArrayList<>();
        for (CurvatureBand band : bands) {
            int[] outer = staircases.computeIfAbsent(band.endRank(pairs), n -> ProductThresholdSearch.topCount(l, m, n));
            int[] inner = staircases.computeIfAbsent(band.firstRank(pairs),
                    n -> ProductThresholdSearch.topCount(l, m, n));
            masks.add(ComponentMask.runs(m.length, inner, outer));
        }
        return List.copyOf(masks);
    }

    /**
     * The n components of largest curvature, ties taken in (i, j) order: exactly n pairs, for λ (p) and μ (q)
     * descending, finite, ≥ 0 and 0 ≤ n ≤ p·q. Never forms the p·q products: bisection on the product threshold
     * with a two-pointer count (O(p + q) per step).
     */
    public static ComponentMask topPairs(double[] lambda, double[] mu, long n) {
        DescendingSpectrum.require(DescendingSpectrum.LAMBDA, lambda);
        DescendingSpectrum.require(DescendingSpectrum.MU, mu);
        return ComponentMask.staircase(mu.length, ProductThresholdSearch.topCount(lambda.clone(), mu.clone(), n));
    }
}
