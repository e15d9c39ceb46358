package dev.curvature.transformer.eval;

import dev.curvature.transformer.model.CausalLm;
import dev.curvature.transformer.model.Generator;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Memorization by recitation (ALGORITHMS.md §1.4): greedy-decode |suffix| tokens after each prompt and compare with
 * the true suffix by token-level Levenshtein distance d over L = |suffix|. Per sample: strict = (d = 0),
 * lev_copy = (1 − d/L ≥ 0.95), loose = (1 − d/L ≥ 0.75). Also the teacher-forced accuracy: the fraction of suffix
 * tokens the model ranks first when fed the true prefix (the edit can break recitation without erasing the string;
 * this shows it). Results overall and per {@code source}.
 */
public final class RecitationEval {
    private RecitationEval() {
    }

    /** One prompt/suffix pair, as token ids. */
    public record Sample(String id, String source, int[] prompt, int[] suffix) {
        public Sample {
            if (prompt.length == 0 || suffix.length == 0) {
                throw new IllegalArgumentException("sample " + id + ": prompt and suffix must not be empty");
            }
        }
    }

    /** What the model did with one sample. */
    public record Outcome(String id, String source, int[] generated, int distance, double teacherForcedAccuracy) {
        public double ratio() {
            return 1.0 - (double) distance / generated.length;
        }
    }

    /**
     * Aggregates over a set of outcomes (rates in [0, 1]).
     *
     * @param samples               how many
     * @param strict                fraction recited exactly
     * @param levCopy               fraction with 1 − d/L ≥ 0.95
     * @param loose                 fraction with 1 − d/L ≥ 0.75
     * @param averageLevenshtein    mean of d/L (higher: less memorization)
     * @param teacherForcedAccuracy mean teacher-forced top-1 accuracy on the suffixes
     */
    public record Summary(int samples, double strict, double levCopy, double loose, double averageLevenshtein,
                          double teacherForcedAccuracy) {
        static Summary of(List<Outcome> outcomes) {
            int n = outcomes.size();
            double strict = 0, copy = 0, loose = 0, lev = 0, tf = 0;
            for (Outcome o : outcomes) {
                double ratio = o.ratio();
                strict += o.distance() == 0 ? 1 : 0;
                copy += ratio >= 0.95 ? 1 : 0;
                loose += ratio >= 0.75 ? 1 : 0;
                lev += (double) o.distance() / o.generated().length;
                tf += o.teacherForcedAccuracy();
            }
            return n == 0 ? new Summary(0, 0, 0, 0, 0, 0)
                    : new Summary(n, strict / n, copy / n, loose / n, lev / n, tf / n);
        }
    }

    /** The result: every outcome, the summary over all, and per source. */
    public record Result(List<Outcome> outcomes, Summary overall, Map<String, Summary> bySource) {
    }

    /** Evaluates every sample; samples are batched by (prompt length, suffix length), {@code batch} at a time. */
    public static Result evaluate(CausalLm model, List<Sample> samples, int batch) {
        Map<String, List<Sample>> groups = new TreeMap<>();
        for (Sample s : samples) {
            if (s.prompt().length + s.suffix().length > model.config().contextLength()) {
                throw new IllegalArgumentException("sample " + s.id() + ": prompt " + s.prompt().length + " + suffix "
                        + s.suffix().length + " tokens exceed the model's " + model.config().contextLength() + " positions");
            }
            groups.computeIfAbsent(s.prompt().length + "/" + s.suffix().length, k -> new ArrayList<>()).add(s);
        }
        Map<String, Outcome> byId = new LinkedHashMap<>();
        for (List<Sample> group : groups.values()) {
            for (int from = 0; from < group.size(); from += batch) {
                List<Sample> chunk = group.subList(from, Math.min(group.size(), from + batch));
                int[][] prompts = chunk.stream().map(Sample::prompt).toArray(int[][]::new);
                int length = chunk.get(0).suffix().length;
                int[][] generated;
                try (Generator generator = new Generator(model, chunk.size(),
                        chunk.get(0).prompt().length + length)) {
                    generated = generator.greedy(prompts, length);
                }
                double[] accuracy = TeacherForcing.accuracy(model, prompts,
                        chunk.stream().map(Sample::suffix).toArray(int[][]::new));
                for (int i = 0; i < chunk.size(); i++) {
                    Sample s = chunk.get(i);
                    byId.put(s.id(), new Outcome(s.id(), s.source(), generated[i],
                            Levenshtein.distance(generated[i], s.suffix()), accuracy[i]));
                }
            }
        }
        List<Outcome> outcomes = samples.stream().map(s -> byId.get(s.id())).toList();
        Map<String, List<Outcome>> perSource = new TreeMap<>();
        for (Outcome o : outcomes) {
            perSource.computeIfAbsent(o.source(), k -> new ArrayList<>()).add(o);
        }
        Map<String, Summary> bySource = new LinkedHashMap<>();
        perSource.forEach((source, list) -> bySource.put(source, Summary.of(list)));
        return new Result(outcomes, Summary.of(outcomes), bySource);
    }
}
