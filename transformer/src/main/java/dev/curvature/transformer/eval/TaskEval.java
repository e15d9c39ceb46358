package dev.curvature.transformer.eval;

import dev.curvature.transformer.model.CausalLm;
import dev.curvature.transformer.model.Generator;
import dev.curvature.transformer.tokenizer.Tokenizer;
import dev.curvature.transformer.workbench.TaskSample;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Task accuracy by exact answer (the task half of paper §4): greedy-decode after each prompt as many tokens as the
 * answer has, decode them to text, and count the sample correct when that text starts with the answer. Answers end
 * with a terminator ('.'), so "46." after "12+34=" is right and "467." wrong. Comparing decoded text, not token ids,
 * keeps the rule independent of how a BPE tokenizer would split prompt + answer jointly.
 */
public final class TaskEval {
    private TaskEval() {
    }

    /**
     * What the model wrote after one prompt, whether it is the answer, and the teacher-forced accuracy: the fraction
     * of the answer's tokens the model ranks first when fed the prompt and the true answer before them (a graded
     * measure that moves under an edit even where exact answers are all right or all wrong).
     */
    public record Outcome(String id, String task, String answer, String generated, boolean correct,
                          double teacherForced) {
    }

    /** Correct answers out of samples for one task set, and the mean teacher-forced accuracy over its answers. */
    public record Summary(int samples, int correct, double teacherForcedAccuracy) {
        public double accuracy() {
            return samples == 0 ? 0 : (double) correct / samples;
        }
    }

    /** Every outcome (in input order) and the summary per task, in order of first appearance. */
    public record Result(List<Outcome> outcomes, Map<String, Summary> byTask) {
    }

    /**
     * Evaluates every sample; prompts are batched by token length, {@code batch} at a time. A prompt that leaves no
     * room for its answer in the model's context is refused naming the sample.
     */
    public static Result evaluate(CausalLm model, Tokenizer tokenizer, List<TaskSample> samples, int batch) {
        if (batch < 1) {
            throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        }
        int context = model.config().contextLength();
        Map<Integer, List<Integer>> byLength = new TreeMap<>();
        int[][] prompts = new int[samples.size()][];
        int[][] answers = new int[samples.size()][];
        for (int i = 0; i < samples.size(); i++) {
            TaskSample s = samples.get(i);
            prompts[i] = tokenizer.encode(s.prompt());
            answers[i] = tokenizer.encode(s.answer());
            if (prompts[i].length == 0) {
                throw new IllegalArgumentException("task sample " + s.id() + ": empty prompt");
            }
            if (prompts[i].length + answers[i].length > context) {
                throw new IllegalArgumentException("task sample " + s.id() + ": prompt " + prompts[i].length
                        + " + answer " + answers[i].length + " tokens exceed the model's " + context + " positions");
            }
            byLength.computeIfAbsent(prompts[i].length, k -> new ArrayList<>()).add(i);
        }
        double[] teacherForced = teacherForced(model, prompts, answers, batch);
        Outcome[] outcomes = new Outcome[samples.size()];
        for (var group : byLength.entrySet()) {
            List<Integer> members = group.getValue();
            for (int from = 0; from < members.size(); from += batch) {
                List<Integer> chunk = members.subList(from, Math.min(members.size(), from + batch));
                int newTokens = chunk.stream().mapToInt(i -> answers[i].length).max().orElseThrow();
                int[][] chunkPrompts = chunk.stream().map(i -> prompts[i]).toArray(int[][]::new);
                int[][] generated;
                try (Generator generator = new Generator(model, chunk.size(), group.getKey() + newTokens)) {
                    generated = generator.greedy(chunkPrompts, newTokens);
                }
                for (int k = 0; k < chunk.size(); k++) {
                    int i = chunk.get(k);
                    TaskSample s = samples.get(i);
                    String text = tokenizer.decodeToString(generated[k]);
                    outcomes[i] = new Outcome(s.id(), s.task(), s.answer(), text, text.startsWith(s.answer()),
                            teacherForced[i]);
                }
            }
        }
        Map<String, double[]> tally = new LinkedHashMap<>();
        for (Outcome o : outcomes) {
            double[] t = tally.computeIfAbsent(o.task(), k -> new double[3]);
            t[0]++;
            t[1] += o.correct() ? 1 : 0;
            t[2] += o.teacherForced();
        }
        Map<String, Summary> byTask = new LinkedHashMap<>();
        tally.forEach((task, t) -> byTask.put(task, new Summary((int) t[0], (int) t[1], t[2] / t[0])));
        return new Result(List.of(outcomes), byTask);
    }

    /**
     * Per sample, the teacher-forced accuracy over its answer tokens ({@link TeacherForcing}), rows batched by total
     * length |prompt| + |answer|, {@code batch} at a time.
     */
    private static double[] teacherForced(CausalLm model, int[][] prompts, int[][] answers, int batch) {
        Map<Integer, List<Integer>> byLength = new TreeMap<>();
        for (int i = 0; i < prompts.length; i++) {
            byLength.computeIfAbsent(prompts[i].length + answers[i].length, k -> new ArrayList<>()).add(i);
        }
        double[] accuracy = new double[prompts.length];
        for (List<Integer> members : byLength.values()) {
            for (int from = 0; from < members.size(); from += batch) {
                List<Integer> chunk = members.subList(from, Math.min(members.size(), from + batch));
                double[] rows = TeacherForcing.accuracy(model, chunk.stream().map(i -> prompts[i]).toArray(int[][]::new),
                        chunk.stream().map(i -> answers[i]).toArray(int[][]::new));
                for (int b = 0; b < chunk.size(); b++) {
                    accuracy[chunk.get(b)] = rows[b];
                }
            }
        }
        return accuracy;
    }
}
