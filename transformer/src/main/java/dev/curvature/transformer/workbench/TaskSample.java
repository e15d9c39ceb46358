package dev.curvature.transformer.workbench;

import java.util.Objects;

/**
 * One task probe: give the model {@code prompt}, decode greedily, and count it correct when the continuation starts
 * with {@code answer} exactly. Every answer ends with the task's terminator ('.'), so a correct prefix is a correct
 * whole answer ("46." does not match "467.").
 *
 * @param task the task set it belongs to, e.g. {@code closed-book}
 * @param id   unique within its set, e.g. {@code closed-book-017}
 */
public record TaskSample(String prompt, String answer, String task, String id) {

    public TaskSample {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(answer, "answer");
        Objects.requireNonNull(task, "task");
        Objects.requireNonNull(id, "id");
        if (answer.isEmpty()) {
            throw new IllegalArgumentException("task sample " + id + ": empty answer");
        }
    }

    /** prompt followed by answer: the text a model trained on the task would write. */
    public String text() {
        return prompt + answer;
    }
}
