package dev.curvature.transformer.data;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Symmetric label noise: exactly round(rate · N) samples, drawn uniformly without replacement from a seed, get a
 * label drawn uniformly from the other K − 1 classes. The flipped indices and the true labels are kept, so a run
 * can report what its model memorized.
 *
 * @param noisyLabels the labels to train on (N)
 * @param trueLabels  the original labels (N)
 * @param flipped     the indices whose label was changed, ascending
 * @param rate        the requested fraction
 * @param seed        the seed the draws came from
 */
public record LabelNoise(int[] noisyLabels, int[] trueLabels, int[] flipped, double rate, long seed) {

    /** Flips round(rate · N) of {@code labels} (K = {@code classes} ≥ 2) to another class, seeded. */
    public static LabelNoise symmetric(int[] labels, int classes, double rate, long seed) {
        if (!(rate >= 0 && rate <= 1)) {
            throw new IllegalArgumentException("noise rate must be in [0, 1], got " + rate);
        }
        if (classes < 2) {
            throw new IllegalArgumentException("label noise needs at least 2 classes, got " + classes);
        }
        int n = labels.length;
        int count = (int) Math.round(rate * n);
        SplittableRandom random = new SplittableRandom(seed);
        // a partial Fisher–Yates shuffle: the first `count` entries are a uniform sample without replacement
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        for (int i = 0; i < count; i++) {
            int j = i + random.nextInt(n - i);
            int swap = order[i];
            order[i] = order[j];
            order[j] = swap;
        }
        int[] flipped = Arrays.copyOf(order, count);
        Arrays.sort(flipped);
        int[] noisy = labels.clone();
        for (int index : flipped) {
            int other = random.nextInt(classes - 1);             // uniform over the K − 1 other classes
            noisy[index] = other >= labels[index] ? other + 1 : other;
        }
        return new LabelNoise(noisy, labels.clone(), flipped, rate, seed);
    }

    /** Whether sample i's training label differs from its true label. */
    public boolean isFlipped(int i) {
        return noisyLabels[i] != trueLabels[i];
    }
}
