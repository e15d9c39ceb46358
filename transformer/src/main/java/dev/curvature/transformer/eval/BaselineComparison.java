package dev.curvature.transformer.eval;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.model.Model;

import java.lang.foreign.Arena;

/**
 * Held-out perplexity of a model and nDCG@K of its next-token ranking against a frozen baseline's, from one forward
 * pass per batch. The baseline's top-K at every scored position is computed once, at construction, so evaluating an
 * edited model costs one forward over the text (the K-FAC paper's two general-ability measures, ALGORITHMS.md §1.4).
 *
 * <p>The text is cut as {@link Perplexity} cuts it: consecutive windows of T tokens, the last position of each
 * window unscored. Perplexity is reported in both conventions; nDCG@K is averaged over the same scored positions,
 * with {@link RankingAgreement#ndcg}'s definition (ties in the ranking go to the lower token id).
 */
public final class BaselineComparison {
    private final int[] tokens;
    private final int time;
    private final int batch;
    private final int k;
    private final int windows;
    private final int vocab;
    /** (positions, K) row-major: the baseline's top-K token ids at each scored position, best first. */
    private final int[] baselineTopK;
    private final Result baseline;

    /**
     * Perplexity in both conventions and nDCG@K against the baseline.
     *
     * @param perplexity the model's perplexity on the text
     * @param ndcg       mean nDCG@K of its ranking against the baseline's top-K (1 for the baseline itself)
     * @param k          K
     */
    public record Result(Perplexity perplexity, double ndcg, int k) {
    }

    /**
     * Runs the baseline over {@code tokens}.
     *
     * @param baseline the frozen reference model
     * @param tokens   held-out token stream; at least one window of {@code time}
     * @param time     window length T, in [2, n_positions]
     * @param batch    windows per forward pass
     * @param k        K of nDCG@K, ≥ 1 and ≤ the vocabulary
     */
    public BaselineComparison(Model baseline, int[] tokens, int time, int batch, int k) {
        int vocab = baseline.config().vocabSize();
        if (time < 2 || time > baseline.config().contextLength() || batch < 1 || k < 1 || k > vocab) {
            throw new IllegalArgumentException("window length " + time + " must be in [2, "
                    + baseline.config().contextLength() + "], batch " + batch + " >= 1 and K " + k + " in [1, " + vocab
                    + "]");
        }
        this.windows = tokens.length / time;
        if (windows == 0) {
            throw new IllegalArgumentException(tokens.length + " held-out tokens are fewer than one window of " + time);
        }
        this.tokens = tokens.clone();
        this.time = time;
        this.batch = batch;
        this.k = k;
        this.vocab = vocab;
        this.baselineTopK = new int[windows * (time - 1) * k];
        this.baseline = run(baseline, true);
    }

    /** The baseline's own figures: its perplexity, and nDCG = 1. */
    public Result baseline() {
        return baseline;
    }

    /** Scored positions: windows × (T − 1). */
    public long positions() {
        return (long) windows * (time - 1);
    }

    /** Evaluates {@code model} (the same architecture, e.g. an edited copy) on the same positions. */
    public Result evaluate(Model model) {
        if (model.config().vocabSize() != vocab) {
            throw new IllegalArgumentException("the model's vocabulary (" + model.config().vocabSize()
                    + ") differs from the baseline's (" + vocab + ")");
        }
        return run(model, false);
    }

    /** One pass: losses for perplexity, top-K per position for the baseline or nDCG against it. */
    private Result run(Model model, boolean recordBaseline) {
        double[] ndcgSum = {0};
        Backend backend = model.backend();
        try (Arena arena = Arena.ofShared()) {
            Tensor[] topBuffer = {null};
            Perplexity perplexity = Perplexity.of(model, tokens, time, batch, (act, first, size) -> {
                long rows = (long) size * time;
                if (topBuffer[0] == null || topBuffer[0].dim(0) != rows) {
                    topBuffer[0] = backend.allocate(arena, DType.I32, rows, k);
                }
                backend.rowTopK(topBuffer[0], act.logits());                    // (B·T, k) from logits (B·T, V)
                int[] top = backend.readInts(topBuffer[0]);
                for (int b = 0; b < size; b++) {
                    for (int t = 0; t < time - 1; t++) {
                        long position = (long) (first + b) * (time - 1) + t;
                        int row = (b * time + t) * k;
                        int at = (int) (position * k);
                        if (recordBaseline) {
                            System.arraycopy(top, row, baselineTopK, at, k);
                        } else {
                            ndcgSum[0] += RankingAgreement.ndcg(baselineTopK, at, top, row, k);
                        }
                    }
                }
            });
            return new Result(perplexity, recordBaseline ? 1.0 : ndcgSum[0] / positions(), k);
        }
    }
}
