package dev.curvature.transformer.eval;

import dev.curvature.transformer.model.CausalLm;
import dev.curvature.transformer.tokenizer.Tokenizer;
import dev.curvature.transformer.workbench.TaskSample;

import java.util.List;

/**
 * What an edit costs, in one call (paper §4): task accuracy per task set ({@link TaskEval}), perplexity on held-out
 * text ({@link Perplexity}) and recitation of memorized samples ({@link RecitationEval}) — the same inputs for the
 * unedited and every edited model, so their figures compare.
 *
 * @param tasks      task samples of every set (may be empty)
 * @param recitation memorization samples, tokenized (may be empty)
 * @param heldout    held-out tokens cut into windows of {@code time} for perplexity (may be empty: none measured)
 * @param time       perplexity window length, in [2, context]
 * @param batch      sequences per forward pass
 */
public record AbilityEval(List<TaskSample> tasks, List<RecitationEval.Sample> recitation, int[] heldout, int time,
                          int batch) {

    public AbilityEval {
        tasks = List.copyOf(tasks);
        recitation = List.copyOf(recitation);
        heldout = heldout.clone();
        if (batch < 1) {
            throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        }
        if (heldout.length > 0 && (time < 2 || heldout.length < time)) {
            throw new IllegalArgumentException(heldout.length + " held-out tokens do not make one perplexity window"
                    + " of " + time + " (need time >= 2 and at least that many tokens)");
        }
    }

    /** The figures of one model; a part whose inputs were empty is null. */
    public record Result(TaskEval.Result tasks, RecitationEval.Result recitation, Perplexity perplexity) {
    }

    public Result evaluate(CausalLm model, Tokenizer tokenizer) {
        TaskEval.Result t = tasks.isEmpty() ? null : TaskEval.evaluate(model, tokenizer, tasks, batch);
        RecitationEval.Result r = recitation.isEmpty() ? null : RecitationEval.evaluate(model, recitation, batch);
        Perplexity p = heldout.length == 0 ? null : Perplexity.of(model, heldout, time, batch);
        return new Result(t, r, p);
    }
}
