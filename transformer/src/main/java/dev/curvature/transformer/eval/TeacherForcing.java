package dev.curvature.transformer.eval;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.CausalLm;
import dev.curvature.transformer.model.Workspace;

import java.lang.foreign.Arena;
import java.util.Arrays;

/**
 * Teacher-forced top-1 accuracy, shared by recitation (suffixes) and task evaluation (answers): each row is
 * prompt + continuation run as one sequence, and position p − 1 + k (p = that row's prompt length) predicts
 * continuation token k. One forward pass for the whole batch.
 */
final class TeacherForcing {
    private TeacherForcing() {
    }

    /**
     * Per row, the fraction of {@code continuations[b]}'s tokens that are the argmax of the logits given the true
     * tokens before them. Every row must have the same total length |prompt| + |continuation| (rows of one batch).
     */
    static double[] accuracy(CausalLm model, int[][] prompts, int[][] continuations) {
        int rows = prompts.length;
        int time = prompts[0].length + continuations[0].length;
        int[] ids = new int[rows * time];                 // [rows, time]
        int[] targets = new int[ids.length];              // no loss needed: every target ignored
        Arrays.fill(targets, -1);
        for (int b = 0; b < rows; b++) {
            if (prompts[b].length + continuations[b].length != time) {
                throw new IllegalArgumentException("row " + b + ": length " + (prompts[b].length
                        + continuations[b].length) + ", the batch's rows have " + time);
            }
            System.arraycopy(prompts[b], 0, ids, b * time, prompts[b].length);
            System.arraycopy(continuations[b], 0, ids, b * time + prompts[b].length, continuations[b].length);
        }
        double[] accuracy = new double[rows];
        Backend backend = model.backend();
        try (Workspace act = model.workspace(rows, time); Arena arena = Arena.ofConfined()) {
            model.forward(act, new Batch.Tokens(ids, targets));
            Tensor best = backend.allocate(arena, DType.I32, ids.length);   // [rows · time] argmax over the vocabulary
            backend.rowArgmax(best, act.logits());
            int[] predicted = backend.readInts(best);
            for (int b = 0; b < rows; b++) {
                int hits = 0;
                for (int k = 0; k < continuations[b].length; k++) {
                    hits += predicted[b * time + prompts[b].length - 1 + k] == continuations[b][k] ? 1 : 0;
                }
                accuracy[b] = (double) hits / continuations[b].length;
            }
        }
        return accuracy;
    }
}
