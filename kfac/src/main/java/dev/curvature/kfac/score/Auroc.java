package dev.curvature.kfac.score;

import java.util.Arrays;
import java.util.Comparator;

/**
 * Area under the ROC curve of a score for a positive set: the probability that a random positive scores higher than
 * a random negative, ties counted one half — the Mann–Whitney U / (P·N), with tied scores given their average rank.
 */
public final class Auroc {
    private Auroc() {
    }

    /**
     * AUROC of {@code scores} (N) for the samples marked {@code positive} (N); needs at least one positive and one
     * negative, and no NaN score.
     */
    public static double of(double[] scores, boolean[] positive) {
        int n = scores.length;
        if (positive.length != n) {
            throw new IllegalArgumentException(n + " scores but " + positive.length + " labels");
        }
        long positives = 0;
        for (int i = 0; i < n; i++) {
            if (Double.isNaN(scores[i])) {
                throw new IllegalArgumentException("score " + i + " is NaN");
            }
            positives += positive[i] ? 1 : 0;
        }
        long negatives = n - positives;
        if (positives == 0 || negatives == 0) {
            throw new IllegalArgumentException("AUROC needs positives and negatives, got " + positives + " and "
                    + negatives);
        }
        Integer[] order = new Integer[n];
        Arrays.setAll(order, i -> i);
        Arrays.sort(order, Comparator.comparingDouble(i -> scores[i]));
        double rankSum = 0;                                  // Σ of the positives' ranks, 1-based, ties averaged
        for (int from = 0; from < n; ) {
            int to = from;
            while (to < n && scores[order[to]] == scores[order[from]]) {
                to++;
            }
            double rank = (from + 1 + to) / 2.0;             // mean of ranks from+1 … to
            for (int k = from; k < to; k++) {
                rankSum += positive[order[k]] ? rank : 0;
            }
            from = to;
        }
        return (rankSum - positives * (positives + 1) / 2.0) / ((double) positives * negatives);
    }
}
