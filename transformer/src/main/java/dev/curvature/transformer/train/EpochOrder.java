package dev.curvature.transformer.train;

import java.util.SplittableRandom;

/**
 * The order samples are read in, epoch by epoch: a Fisher–Yates shuffle of 0 .. count − 1 seeded by (seed, epoch),
 * so the sample of any step is a pure function of (seed, step). The last epoch's order is cached.
 */
final class EpochOrder {
    private final int count;
    private final long seed;
    private int cachedEpoch = -1;
    private int[] cachedOrder;

    EpochOrder(int count, long seed) {
        this.count = count;
        this.seed = seed;
    }

    /** The sample read k-th overall (epoch k / count, position k mod count in that epoch's shuffle). */
    int sample(long k) {
        return order((int) (k / count))[(int) (k % count)];
    }

    /** The samples read {@code first} … {@code first + count − 1}-th overall. */
    int[] samples(long first, int count) {
        int[] out = new int[count];
        for (int i = 0; i < count; i++) {
            out[i] = sample(first + i);
        }
        return out;
    }

    private int[] order(int epoch) {
        if (epoch != cachedEpoch) {
            int[] order = new int[count];
            for (int i = 0; i < count; i++) {
                order[i] = i;
            }
            SplittableRandom random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + epoch);
            for (int i = count - 1; i > 0; i--) {
                int j = random.nextInt(i + 1);
                int swap = order[i];
                order[i] = order[j];
                order[j] = swap;
            }
            cachedOrder = order;
            cachedEpoch = epoch;
        }
        return cachedOrder;
    }
}
