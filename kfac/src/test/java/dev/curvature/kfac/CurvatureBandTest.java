package dev.curvature.kfac;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeout;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Count-based curvature bands. Main reference: {@link NaiveProductRanking}, a full sort of all p·q exact products
 * with the (i, j) tie order; band edges from decimal text in exact arithmetic. At layer size (11008×4096), where
 * no sort is possible, closed forms and an optimality certificate checked in O(p + q).
 */
class CurvatureBandTest {
    /** Edges as the decimals a user writes; the code gets their doubles. 0.29 and 0.7 are below their decimals. */
    private static final String[] EDGES = {"0", "0.05", "0.1", "0.25", "0.29", "0.333", "0.5", "0.7", "0.9", "1"};

    @Test
    void bandsHoldExactlyTheNaivelySortedRanksOnRandomSpectra() {
        // reference: full BigDecimal sort; tolerance: none (identical pair sets, exact counts, a partition of the grid)
        Random random = new Random(20260104);
        for (int c = 0; c < 400; c++) {
            double[] lambda = RandomSpectra.spectrum(random, 1 + random.nextInt(30));
            double[] mu = RandomSpectra.spectrum(random, 1 + random.nextInt(30));
            int p = lambda.length;
            int q = mu.length;
            long pairs = (long) p * q;
            int[][] rank = NaiveProductRanking.ranks(lambda, mu);
            // a random partition of [0, 1] by some of the edges, always including 0 and 1
            List<String> edges = new java.util.ArrayList<>(List.of("0"));
            for (int e = 1; e < EDGES.length - 1; e++) {
                if (random.nextInt(3) == 0) {
                    edges.add(EDGES[e]);
                }
            }
            edges.add("1");
            double[] values = edges.stream().mapToDouble(Double::parseDouble).toArray();
            List<CurvatureBand> bands = CurvatureBand.fromEdges(values);
            List<ComponentMask> masks = CurvatureBand.masks(lambda, mu, bands);
            String what = "case " + c + " edges " + edges + " lambda " + Arrays.toString(lambda) + " mu "
                    + Arrays.toString(mu);
            int[][] memberships = new int[p][q];
            for (int b = 0; b < bands.size(); b++) {
                long lo = NaiveProductRanking.edge(edges.get(b), pairs);
                long hi = NaiveProductRanking.edge(edges.get(b + 1), pairs);
                ComponentMask mask = masks.get(b);
                assertEquals(hi - lo, mask.pairCount(), what);
                long[] columnCounts = new long[q];
                for (int i = 0; i < p; i++) {
                    for (int j = 0; j < q; j++) {
                        boolean expected = rank[i][j] >= lo && rank[i][j] < hi;
                        if (mask.contains(i, j) != expected) {
                            fail("band " + b + " pair (" + i + ", " + j + ") of rank " + rank[i][j] + ": expected "
                                    + expected + "; " + what);
                        }
                        memberships[i][j] += expected ? 1 : 0;
                        columnCounts[j] += expected ? 1 : 0;
                    }
                }
                assertEquals(Arrays.toString(columnCounts),
                        Arrays.toString(Arrays.stream(mask.columnCounts()).asLongStream().toArray()), what);
            }
            for (int[] row : memberships) {
                for (int m : row) {
                    assertEquals(1, m, "bands partition the grid; " + what);
                }
            }
        }
    }

    @Test
    void topPairsIsTheNaiveTopNForEveryN() {
        // reference: full BigDecimal sort; every n from 0 to p·q on small tie-heavy grids
        Random random = new Random(7);
        for (int c = 0; c < 60; c++) {
            double[] lambda = RandomSpectra.spectrum(random, 1 + random.nextInt(8));
            double[] mu = RandomSpectra.spectrum(random, 1 + random.nextInt(8));
            int[][] rank = NaiveProductRanking.ranks(lambda, mu);
            for (int n = 0; n <= lambda.length * mu.length; n++) {
                ComponentMask top = CurvatureBand.topPairs(lambda, mu, n);
                assertEquals(n, top.pairCount());
                for (int i = 0; i < lambda.length; i++) {
                    for (int j = 0; j < mu.length; j++) {
                        assertEquals(rank[i][j] < n, top.contains(i, j), "n " + n + " (" + i + ", " + j + ") "
                                + Arrays.toString(lambda) + " " + Arrays.toString(mu));
                    }
                }
            }
        }
    }

    @Test
    void edgesAreFlooredDecimalsNotFlooredDoubles() {
        // fl(0.29 · 100) = 28.999999999999996, but the band edge is ⌊0.29 · 100⌋ = 29
        assertEquals(29, CurvatureBand.rank(0.29, 100));
        assertEquals(10, CurvatureBand.rank(0.1, 100));
        assertEquals(0, CurvatureBand.rank(0.1, 9));
        assertEquals(45_088_768L, CurvatureBand.rank(1, 11008L * 4096));
        assertEquals(List.of("top 10%", "10–25%", "25–50%", "bottom 50%"),
                CurvatureBand.DEFAULTS.stream().map(CurvatureBand::label).toList());
        assertThrows(IllegalArgumentException.class, () -> new CurvatureBand(0.5, 0.5));
        assertThrows(IllegalArgumentException.class, () -> CurvatureBand.fromEdges(0, 0.6, 0.4, 1));
        assertThrows(IllegalArgumentException.class, () -> CurvatureBand.topPairs(new double[]{1, 2}, new double[]{1}, 1));
    }

    @Test
    void layerSizeTopCountWithOneTiedRowSpectrumIsTheClosedForm() {
        // λ = 1 for all 11008 rows, μ_j = 4096 − j: the products are μ_j, each column one tie class of 11008 pairs
        // taken in row order, so top-n keeps ⌊n/p⌋ full columns and one more column in the first n mod p rows
        int p = 11008;
        int q = 4096;
        double[] lambda = new double[p];
        Arrays.fill(lambda, 1.0);
        double[] mu = new double[q];
        for (int j = 0; j < q; j++) {
            mu[j] = q - j;
        }
        long pairs = (long) p * q;
        assertTimeout(Duration.ofSeconds(10), () -> {
            for (long n : new long[]{1, p - 1, p, pairs / 10, pairs / 4 + 3, pairs / 2, pairs - 1}) {
                ComponentMask top = CurvatureBand.topPairs(lambda, mu, n);
                for (int i = 0; i < p; i++) {
                    int expected = (int) (n / p) + (i < n % p ? 1 : 0);
                    if (top.rowEnd(i) != expected || top.rowStart(i) != 0) {
                        fail("n " + n + " row " + i + ": [" + top.rowStart(i) + ", " + top.rowEnd(i) + "), expected [0, "
                                + expected + ")");
                    }
                }
            }
        });
    }

    @Test
    void layerSizeDefaultBandsAreExactTopCountsOfIntegerSpectra() {
        // λ_i = 11008 − i, μ_j = 4096 − j: integer products (exact in double) with many ties. Certificate of a
        // top-n set in O(p + q): it has n pairs, its least product is ≥ the largest product outside it, and the
        // pairs tied at that boundary product are taken in (i, j) order.
        int p = 11008;
        int q = 4096;
        double[] lambda = new double[p];
        double[] mu = new double[q];
        for (int i = 0; i < p; i++) {
            lambda[i] = p - i;
        }
        for (int j = 0; j < q; j++) {
            mu[j] = q - j;
        }
        long pairs = (long) p * q;
        long start = System.nanoTime();
        List<ComponentMask> bands = CurvatureBand.masks(lambda, mu, CurvatureBand.DEFAULTS);
        double seconds = (System.nanoTime() - start) / 1e9;
        assertTrue(seconds < 5, "four bands of 11008×4096 took " + seconds + " s");
        long[] expected = {pairs / 10 - 0, pairs / 4 - pairs / 10, pairs / 2 - pairs / 4, pairs - pairs / 2};
        long total = 0;
        for (int b = 0; b < bands.size(); b++) {
            assertEquals(NaiveProductRanking.edge(List.of("0.1", "0.25", "0.5", "1").get(b), pairs)
                    - NaiveProductRanking.edge(List.of("0", "0.1", "0.25", "0.5").get(b), pairs), bands.get(b).pairCount());
            assertEquals(expected[b], bands.get(b).pairCount());
            total += bands.get(b).pairCount();
        }
        assertEquals(pairs, total);
        // the top staircases are the row ends of the bands; each must certify as a top-n set
        for (ComponentMask band : bands) {
            int[] lengths = new int[p];
            for (int i = 0; i < p; i++) {
                lengths[i] = band.rowEnd(i);
            }
            certifyTopSet(lambda, mu, lengths);
        }
    }

    /** Fails unless rows [0, k_i) are a top-Σk set of the exact (integer) products with the (i, j) tie order. */
    private static void certifyTopSet(double[] lambda, double[] mu, int[] k) {
        int q = mu.length;
        double leastIn = Double.POSITIVE_INFINITY;
        double mostOut = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < lambda.length; i++) {
            if (i > 0 && k[i] > k[i - 1]) {
                fail("not a staircase at row " + i);
            }
            if (k[i] > 0) {
                leastIn = Math.min(leastIn, lambda[i] * mu[k[i] - 1]);
            }
            if (k[i] < q) {
                mostOut = Math.max(mostOut, lambda[i] * mu[k[i]]);
            }
        }
        assertTrue(leastIn >= mostOut, "least kept product " + leastIn + " < largest left out " + mostOut);
        if (leastIn == mostOut) {
            // tied pairs at τ: once a row leaves one out, no later row may take one
            double tau = leastIn;
            boolean leftOut = false;
            for (int i = 0; i < lambda.length; i++) {
                boolean takes = k[i] > 0 && lambda[i] * mu[k[i] - 1] == tau;
                if (takes && leftOut) {
                    fail("row " + i + " takes a pair tied at " + tau + " after an earlier row left one out");
                }
                leftOut |= k[i] < q && lambda[i] * mu[k[i]] == tau;
            }
        }
    }
}
