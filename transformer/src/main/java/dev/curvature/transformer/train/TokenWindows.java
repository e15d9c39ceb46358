package dev.curvature.transformer.train;

import dev.curvature.transformer.model.Batch;


/**
 * A token stream cut into fixed-length windows for training: window w covers tokens [w·stride, w·stride + T).
 * Inputs are the window's T tokens; targets are the next tokens, and the last position of each window has none
 * (target −1), the same convention K-FAC collection uses. The order of windows is a seeded shuffle per epoch, so
 * the batch of any step is a pure function of (seed, step) — resuming needs no data state.
 */
public final class TokenWindows implements BatchSource {
    private final int[] tokens;
    private final int time;
    private final int stride;
    private final int count;
    private final EpochOrder order;

    public TokenWindows(int[] tokens, int time, int stride, long seed) {
        if (time < 2) {
            throw new IllegalArgumentException("windows need at least 2 tokens, got time = " + time);
        }
        if (stride < 1) {
            throw new IllegalArgumentException("window stride must be >= 1, got " + stride);
        }
        if (tokens.length < time) {
            throw new IllegalArgumentException("the corpus has " + tokens.length + " tokens, fewer than one window of "
                    + time);
        }
        this.tokens = tokens;
        this.time = time;
        this.stride = stride;
        this.count = (tokens.length - time) / stride + 1;
        this.order = new EpochOrder(count, seed);
    }

    /** Windows per epoch. */
    public int count() {
        return count;
    }

    @Override
    public int sampleCount() {
        return count;
    }

    /** The windows (window w starts at token w·stride) of step {@code step}. */
    @Override
    public int[] samples(long step, int batch) {
        return order.samples(step * batch, batch);
    }

    @Override
    public int time() {
        return time;
    }

    /** The token windows of step {@code step} as a batch. */
    @Override
    public Batch batch(long step, int batch) {
        int[] ids = new int[batch * time];
        int[] targets = new int[ids.length];
        batch(step, batch, ids, targets);
        return new Batch.Tokens(ids, targets);
    }

    /**
     * Fills ids and targets (each B·T, row-major (B, T)) with the batch of {@code batch} windows for {@code step}:
     * windows step·B … step·B + B − 1 of the epoch-wise shuffled sequence.
     */
    public void batch(long step, int batch, int[] ids, int[] targets) {
        int[] windows = samples(step, batch);
        for (int b = 0; b < batch; b++) {
            fillWindow(tokens, (long) windows[b] * stride, time, ids, targets, b * time);
        }
    }

    /**
     * Fills ids and targets (each count·T, row-major (count, T)) with the consecutive, non-overlapping windows
     * first … first + count − 1 of {@code tokens} — the layout evaluation and K-FAC collection read a corpus in.
     */
    public static void consecutive(int[] tokens, long first, int count, int time, int[] ids, int[] targets) {
        for (int w = 0; w < count; w++) {
            fillWindow(tokens, (first + w) * time, time, ids, targets, w * time);
        }
    }

    /**
     * {@code count} windows of T tokens spread evenly over {@code tokens}, concatenated (count·T tokens): window w
     * starts at ⌊w·(N − T)/(count − 1)⌋ (the first at 0, the last ending at N). A sample of a long text that sees all
     * of it rather than its beginning; with count·T ≥ N it is the first ⌊N/T⌋ consecutive windows instead.
     */
    public static int[] evenlySpaced(int[] tokens, int count, int time) {
        if (count < 1 || time < 1) {
            throw new IllegalArgumentException("need at least one window of at least one token; got " + count
                    + " windows of " + time);
        }
        if (tokens.length < time) {
            throw new IllegalArgumentException(tokens.length + " tokens are fewer than one window of " + time);
        }
        if ((long) count * time >= tokens.length) {
            return java.util.Arrays.copyOf(tokens, tokens.length / time * time);
        }
        int[] out = new int[count * time];
        long span = tokens.length - time;
        for (int w = 0; w < count; w++) {
            long start = count == 1 ? 0 : w * span / (count - 1);
            System.arraycopy(tokens, (int) start, out, w * time, time);
        }
        return out;
    }

    /** One window of T tokens from {@code start}: inputs, and next tokens as targets (−1 at the last position). */
    private static void fillWindow(int[] tokens, long start, int time, int[] ids, int[] targets, int at) {
        int from = Math.toIntExact(start);
        for (int t = 0; t < time; t++) {
            ids[at + t] = tokens[from + t];
            targets[at + t] = t < time - 1 ? tokens[from + t + 1] : -1;
        }
    }
}
