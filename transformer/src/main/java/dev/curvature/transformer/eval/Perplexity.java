package dev.curvature.transformer.eval;

import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.Workspace;
import dev.curvature.transformer.train.TokenWindows;

/**
 * Perplexity of a model on a token stream cut into consecutive windows of T tokens (the last position of each
 * window has no target), in two conventions that differ and must not be confused:
 * <ul>
 *   <li>{@code perplexity}: exp of the mean token loss over all scored positions (the textbook definition);</li>
 *   <li>{@code meanOfBatchPerplexities}: the mean over batches of exp(batch-mean loss) — what the K-FAC paper's
 *       evaluation code reports (ALGORITHMS.md §1.4). By Jensen it is ≥ the former for equal-size batches.</li>
 * </ul>
 *
 * @param positions                scored positions
 * @param meanLoss                 mean cross-entropy per scored position (nats)
 * @param perplexity               exp(meanLoss)
 * @param meanOfBatchPerplexities  mean over batches of exp(batch-mean loss)
 * @param batches                  batches evaluated
 */
public record Perplexity(long positions, double meanLoss, double perplexity, double meanOfBatchPerplexities,
                         int batches) {

    /** Evaluates {@code tokens} in windows of {@code time} tokens, {@code batch} windows at a time. */
    public static Perplexity of(Model model, int[] tokens, int time, int batch) {
        return of(model, tokens, time, batch, (act, first, windows) -> { });
    }

    /** Sees each batch after its forward pass: the activations (logits (B·T, V)), the first window, the windows. */
    @FunctionalInterface
    interface BatchObserver {
        void afterForward(Workspace act, int firstWindow, int windows);
    }

    /** {@link #of(Model, int[], int, int)}, handing every batch to {@code observer} after its forward pass. */
    static Perplexity of(Model model, int[] tokens, int time, int batch, BatchObserver observer) {
        if (time < 2 || time > model.config().contextLength() || batch < 1) {
            throw new IllegalArgumentException("window length " + time + " must be in [2, " + model.config().contextLength()
                    + "] and batch " + batch + " >= 1");
        }
        int windows = tokens.length / time;
        if (windows == 0) {
            throw new IllegalArgumentException(tokens.length + " tokens are fewer than one window of " + time);
        }
        double lossSum = 0;
        long positions = 0;
        double batchPerplexities = 0;
        int batches = 0;
        Workspace act = null;
        try {
            for (int first = 0; first < windows; first += batch) {
                int size = Math.min(batch, windows - first);
                if (act == null || act.batch() != size) {
                    if (act != null) {
                        act.close();
                    }
                    act = model.workspace(size, time);
                }
                int[] ids = new int[size * time];
                int[] targets = new int[ids.length];
                TokenWindows.consecutive(tokens, first, size, time, ids, targets);
                double mean = model.forward(act, new Batch.Tokens(ids, targets));
                observer.afterForward(act, first, size);
                lossSum += mean * act.countedPositions();
                positions += act.countedPositions();
                batchPerplexities += Math.exp(mean);
                batches++;
            }
        } finally {
            if (act != null) {
                act.close();
            }
        }
        double meanLoss = lossSum / positions;
        return new Perplexity(positions, meanLoss, Math.exp(meanLoss), batchPerplexities / batches, batches);
    }
}
