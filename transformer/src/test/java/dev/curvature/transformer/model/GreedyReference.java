package dev.curvature.transformer.model;

import java.util.Arrays;

/** Greedy continuation by full recomputation of the whole sequence for every new token: the KV cache's reference. */
public final class GreedyReference {
    private GreedyReference() {
    }

    /** Index of the largest of values[from, from + count) relative to from; ties go to the lowest index. */
    public static int argmax(double[] values, int from, int count) {
        int arg = 0;
        for (int i = 1; i < count; i++) {
            if (values[from + i] > values[from + arg]) {
                arg = i;
            }
        }
        return arg;
    }

    /** (B, newTokens) tokens: at each step the whole prefix is run again and the last position's argmax appended. */
    public static int[][] greedyByRecomputation(Model model, int[][] prompts, int newTokens) {
        int batch = prompts.length;
        int length = prompts[0].length;
        int v = model.config().vocabSize();
        int[][] out = new int[batch][newTokens];
        for (int n = 0; n < newTokens; n++) {
            int time = length + n;
            int[] ids = new int[batch * time];
            int[] targets = new int[batch * time];
            Arrays.fill(targets, -1);
            for (int b = 0; b < batch; b++) {
                for (int t = 0; t < time; t++) {
                    ids[b * time + t] = t < length ? prompts[b][t] : out[b][t - length];
                }
            }
            try (Workspace ws = model.workspace(batch, time)) {
                model.forward(ws, new Batch.Tokens(ids, targets));
                double[] logits = ws.logits().toDoubleArray();
                for (int b = 0; b < batch; b++) {
                    out[b][n] = argmax(logits, (b * time + time - 1) * v, v);
                }
            }
        }
        return out;
    }
}
