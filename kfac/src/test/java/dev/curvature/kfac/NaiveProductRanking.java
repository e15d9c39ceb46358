package dev.curvature.kfac;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Test reference for curvature bands: every one of the p·q pairs written out, with its exact product
 * λ_iμ_j as a BigDecimal, sorted descending, ties by (i, j) ascending; a pair's rank is its place in that list.
 */
final class NaiveProductRanking {
    private NaiveProductRanking() {
    }

    /** rank[i][j] (0 = the largest product) of every pair. */
    static int[][] ranks(double[] lambda, double[] mu) {
        record Pair(int i, int j, BigDecimal product) {
        }
        List<Pair> pairs = new ArrayList<>();
        for (int i = 0; i < lambda.length; i++) {
            for (int j = 0; j < mu.length; j++) {
                pairs.add(new Pair(i, j, new BigDecimal(lambda[i]).multiply(new BigDecimal(mu[j]))));
            }
        }
        pairs.sort(Comparator.comparing(Pair::product).reversed().thenComparingInt(Pair::i)
                .thenComparingInt(Pair::j));
        int[][] rank = new int[lambda.length][mu.length];
        for (int r = 0; r < pairs.size(); r++) {
            rank[pairs.get(r).i()][pairs.get(r).j()] = r;
        }
        return rank;
    }

    /** ⌊fraction·pairs⌋ for a decimal fraction written as text, in exact decimal arithmetic. */
    static long edge(String fraction, long pairs) {
        return new BigDecimal(fraction).multiply(BigDecimal.valueOf(pairs)).setScale(0, RoundingMode.FLOOR)
                .longValueExact();
    }
}
