package dev.curvature.transformer.eval;

import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.Workspace;

/**
 * nDCG@K of an edited model's next-token ranking against a baseline's (ALGORITHMS.md §1.4): with B_t the baseline's
 * top-K tokens at position t and ŷ_{t,r} the edited model's rank-r token, rel(r) = K − r + 1 if ŷ_{t,r} ∈ B_t else 0,
 * nDCG_t = Σ_r rel(r)/log2(r+1) / Σ_r (K − r + 1)/log2(r+1); averaged over positions. 1 means the edited model's
 * top-K are all among the baseline's top-K.
 */
public final class RankingAgreement {
    private RankingAgreement() {
    }

    /** nDCG@k of one position from the two models' logits (length V each). */
    public static double ndcg(double[] baselineLogits, double[] editedLogits, int k) {
        return ndcg(topK(baselineLogits, k), 0, topK(editedLogits, k), 0, k);
    }

    /**
     * nDCG@k from the two top-k lists: the baseline's at {@code baseline[baselineAt .. baselineAt + k)}, the edited
     * model's at {@code edited[editedAt .. editedAt + k)}, best first.
     */
    static double ndcg(int[] baseline, int baselineAt, int[] edited, int editedAt, int k) {
        double gain = 0;
        double ideal = 0;
        for (int r = 1; r <= k; r++) {
            double discount = Math.log(r + 1) / Math.log(2);
            ideal += (k - r + 1) / discount;
            int token = edited[editedAt + r - 1];
            for (int j = baselineAt; j < baselineAt + k; j++) {
                if (baseline[j] == token) {
                    gain += (k - r + 1) / discount;
                    break;
                }
            }
        }
        return gain / ideal;
    }

    /** Indices of the k largest values, largest first (ties: lower index first). */
    static int[] topK(double[] values, int k) {
        int[] best = new int[k];
        topK(values, k, best, 0);
        return best;
    }

    /** {@link #topK(double[], int)} written to {@code out[at .. at + k)}. */
    static void topK(double[] values, int k, int[] out, int at) {
        java.util.Arrays.fill(out, at, at + k, -1);
        for (int i = 0; i < values.length; i++) {
            int slot = k;
            while (slot > 0 && (out[at + slot - 1] < 0 || values[i] > values[out[at + slot - 1]])) {
                slot--;
            }
            if (slot < k) {
                System.arraycopy(out, at + slot, out, at + slot + 1, k - slot - 1);
                out[at + slot] = i;
            }
        }
    }

    /** Mean nDCG@k over every position but the last of consecutive windows of {@code time} tokens. */
    public static double meanNdcg(Model baseline, Model edited, int[] tokens, int time, int k) {
        int windows = tokens.length / time;
        if (windows == 0) {
            throw new IllegalArgumentException(tokens.length + " tokens are fewer than one window of " + time);
        }
        int v = baseline.config().vocabSize();
        double total = 0;
        long positions = 0;
        int[] targets = new int[time];
        java.util.Arrays.fill(targets, -1);
        try (Workspace a = baseline.workspace(1, time); Workspace b = edited.workspace(1, time)) {
            double[] rowA = new double[v];
            double[] rowB = new double[v];
            for (int w = 0; w < windows; w++) {
                int[] ids = java.util.Arrays.copyOfRange(tokens, w * time, (w + 1) * time);
                baseline.forward(a, new Batch.Tokens(ids, targets));
                edited.forward(b, new Batch.Tokens(ids, targets));
                for (int t = 0; t < time - 1; t++) {
                    a.logits().readRow(t, rowA);
                    b.logits().readRow(t, rowB);
                    total += ndcg(rowA, rowB, k);
                    positions++;
                }
            }
        }
        return total / positions;
    }
}
