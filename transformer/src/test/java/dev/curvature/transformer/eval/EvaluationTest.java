package dev.curvature.transformer.eval;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.model.GreedyReference;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.train.ModelInitializer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The evaluation library against closed forms, brute force and hand-computed values. */
class EvaluationTest {
    static final CpuBackend backend = SharedCpuBackend.get();

    /** Edit distance by the textbook recursion (exponential; fine for short arrays): the reference. */
    static int bruteForce(int[] a, int i, int[] b, int j) {
        if (i == a.length) {
            return b.length - j;
        }
        if (j == b.length) {
            return a.length - i;
        }
        int substitute = bruteForce(a, i + 1, b, j + 1) + (a[i] == b[j] ? 0 : 1);
        return Math.min(substitute, Math.min(bruteForce(a, i + 1, b, j) + 1, bruteForce(a, i, b, j + 1) + 1));
    }

    @Test
    void levenshteinMatchesTheRecursionOnRandomSequences() {
        assertEquals(3, Levenshtein.distance("kitten".chars().toArray(), "sitting".chars().toArray()));
        Random random = new Random(1);
        for (int trial = 0; trial < 300; trial++) {
            int[] a = random.ints(random.nextInt(8), 0, 3).toArray();
            int[] b = random.ints(random.nextInt(8), 0, 3).toArray();
            assertEquals(bruteForce(a, 0, b, 0), Levenshtein.distance(a, b), java.util.Arrays.toString(a) + " vs "
                    + java.util.Arrays.toString(b));
        }
    }

    @Test
    void aModelWithZeroWeightsHasPerplexityEqualToTheVocabularySize() {
        // all weights 0 (LayerNorm gains too): every logit is 0, the softmax uniform, each loss exactly ln V
        Gpt2Config config = Gpt2Config.of(2, 2, 16, 37, 16);
        try (ParameterSet weights = ParameterSet.allocate(backend, config, DType.F64)) {
            Gpt2Model model = new Gpt2Model(backend, weights);
            int[] tokens = new Random(2).ints(16 * 7 + 3, 0, 37).toArray();
            Perplexity p = Perplexity.of(model, tokens, 16, 3);
            assertEquals(7 * 15, p.positions());
            assertEquals(Math.log(37), p.meanLoss(), 1e-14);
            assertEquals(37.0, p.perplexity(), 1e-12);
            assertEquals(37.0, p.meanOfBatchPerplexities(), 1e-12);
            assertEquals(3, p.batches());
        }
    }

    @Test
    void batchMeanPerplexityIsTheMeanOfPerBatchExponentials() {
        Gpt2Config config = Gpt2Config.of(1, 2, 16, 50, 16);
        try (ParameterSet weights = ParameterSet.allocate(backend, config, DType.F64)) {
            ModelInitializer.initialize(weights, 3);
            for (var t : weights.all().values()) {
                backend.scale(t, t, 4.0);   // sharper predictions: batches differ in loss
            }
            Gpt2Model model = new Gpt2Model(backend, weights);
            int[] tokens = new Random(4).ints(16 * 6, 0, 50).toArray();
            Perplexity both = Perplexity.of(model, tokens, 16, 3);
            Perplexity first = Perplexity.of(model, java.util.Arrays.copyOf(tokens, 48), 16, 3);
            Perplexity second = Perplexity.of(model, java.util.Arrays.copyOfRange(tokens, 48, 96), 16, 3);
            double expectedBatchMean = (first.perplexity() + second.perplexity()) / 2;
            double expectedTokenMean = Math.exp((first.meanLoss() + second.meanLoss()) / 2);
            assertEquals(expectedBatchMean, both.meanOfBatchPerplexities(), 1e-12 * expectedBatchMean);
            assertEquals(expectedTokenMean, both.perplexity(), 1e-12 * expectedTokenMean);
            assertTrue(Math.abs(first.meanLoss() - second.meanLoss()) > 1e-3, "the two batches must differ");
            assertTrue(both.meanOfBatchPerplexities() >= both.perplexity(), "Jensen");
        }
    }

    @Test
    void recitationScoresFollowTheLevenshteinDefinitions() {
        Gpt2Config config = Gpt2Config.of(2, 2, 32, 61, 64);
        try (ParameterSet weights = ParameterSet.allocate(backend, config, DType.F64)) {
            ModelInitializer.initialize(weights, 5);
            for (var t : weights.all().values()) {
                backend.scale(t, t, 10.0);
            }
            Gpt2Model model = new Gpt2Model(backend, weights);
            Random random = new Random(6);
            List<RecitationEval.Sample> samples = new ArrayList<>();
            int[][] prompts = new int[4][12];
            for (int[] prompt : prompts) {
                for (int i = 0; i < prompt.length; i++) {
                    prompt[i] = random.nextInt(61);
                }
            }
            // the model's own greedy continuations (reference: full recomputation) are recited exactly...
            int[][] greedy = GreedyReference.greedyByRecomputation(model, prompts, 20);
            samples.add(new RecitationEval.Sample("exact", "memorized", prompts[0], greedy[0]));
            // ...one changed token of 20 still counts as lev_copy (0.95) and loose, not strict
            int[] oneOff = greedy[1].clone();
            oneOff[7] = (oneOff[7] + 1) % 61;
            samples.add(new RecitationEval.Sample("one-off", "memorized", prompts[1], oneOff));
            // ...four changed: loose (0.8) only
            int[] fourOff = greedy[2].clone();
            for (int k : new int[]{1, 5, 9, 13}) {
                fourOff[k] = (fourOff[k] + 1) % 61;
            }
            samples.add(new RecitationEval.Sample("four-off", "control", prompts[2], fourOff));
            int[] unrelated = random.ints(20, 0, 61).toArray();
            samples.add(new RecitationEval.Sample("random", "control", prompts[3], unrelated));

            RecitationEval.Result result = RecitationEval.evaluate(model, samples, 2);
            assertArrayEquals(greedy[0], result.outcomes().get(0).generated(), "KV-cached greedy = recomputation");
            assertEquals(0, result.outcomes().get(0).distance());
            assertEquals(1, result.outcomes().get(1).distance());
            assertEquals(Levenshtein.distance(greedy[2], fourOff), result.outcomes().get(2).distance());
            assertEquals(Levenshtein.distance(greedy[3], unrelated), result.outcomes().get(3).distance());
            RecitationEval.Summary memorized = result.bySource().get("memorized");
            assertEquals(0.5, memorized.strict());
            assertEquals(1.0, memorized.levCopy());
            assertEquals(1.0, memorized.loose());
            assertEquals((0 + 1 / 20.0) / 2, memorized.averageLevenshtein(), 1e-15);
            // teacher-forced accuracy of the exact sample is 1: the greedy continuation is the argmax at each step
            assertEquals(1.0, result.outcomes().get(0).teacherForcedAccuracy());
            assertEquals(4, result.overall().samples());
        }
    }

    @Test
    void ndcgIsOneForIdenticalRankingsAndMatchesAHandComputedCase() {
        double[] base = new double[15];
        for (int i = 0; i < base.length; i++) {
            base[i] = -i;   // ranking 0, 1, 2, ...
        }
        assertEquals(1.0, RankingAgreement.ndcg(base, base, 10), 1e-15);
        // edited ranking: tokens 14, 1, 2, ..., 9 on top (token 0 demoted out of the top 10, 14 promoted to rank 1)
        double[] edited = base.clone();
        edited[14] = 100;
        edited[0] = -100;
        double ideal = 0;
        double gain = 0;
        for (int r = 1; r <= 10; r++) {
            double w = (10 - r + 1) / (Math.log(r + 1) / Math.log(2));
            ideal += w;
            gain += r == 1 ? 0 : w;   // rank 1 holds token 14, not in the baseline's top 10
        }
        assertEquals(gain / ideal, RankingAgreement.ndcg(base, edited, 10), 1e-15);
    }

    @Test
    void baselineComparisonMatchesPerplexityAndPerPositionNdcg() {
        // references: Perplexity.of (both conventions) and RankingAgreement.meanNdcg (window by window, batch 1)
        Gpt2Config config = Gpt2Config.of(2, 2, 16, 40, 16);
        try (ParameterSet base = ParameterSet.allocate(backend, config, DType.F64);
             ParameterSet other = ParameterSet.allocate(backend, config, DType.F64)) {
            ModelInitializer.initialize(base, 5);
            ModelInitializer.initialize(other, 5);
            for (var t : base.all().values()) {
                backend.scale(t, t, 3.0);
            }
            for (var e : other.all().entrySet()) {   // a perturbed copy: same weights × 3, one matrix changed more
                backend.scale(e.getValue(), e.getValue(), e.getKey().equals("h.1.mlp.c_fc.weight") ? 2.0 : 3.0);
            }
            Gpt2Model baseline = new Gpt2Model(backend, base);
            Gpt2Model edited = new Gpt2Model(backend, other);
            int[] tokens = new Random(6).ints(16 * 7 + 5, 0, 40).toArray();
            BaselineComparison comparison = new BaselineComparison(baseline, tokens, 16, 3, 10);
            assertEquals(7 * 15, comparison.positions());

            Perplexity expectedBase = Perplexity.of(baseline, tokens, 16, 3);
            assertEquals(expectedBase, comparison.baseline().perplexity());
            assertEquals(1.0, comparison.baseline().ndcg());
            assertEquals(1.0, comparison.evaluate(baseline).ndcg(), 1e-15);

            BaselineComparison.Result result = comparison.evaluate(edited);
            Perplexity expected = Perplexity.of(edited, tokens, 16, 3);
            assertEquals(expected.perplexity(), result.perplexity().perplexity(), 1e-12 * expected.perplexity());
            assertEquals(expected.meanOfBatchPerplexities(), result.perplexity().meanOfBatchPerplexities(),
                    1e-12 * expected.meanOfBatchPerplexities());
            double ndcg = RankingAgreement.meanNdcg(baseline, edited, java.util.Arrays.copyOf(tokens, 7 * 16), 16, 10);
            assertEquals(ndcg, result.ndcg(), 1e-12);
            assertTrue(ndcg < 0.999, "the perturbation must change some rankings: " + ndcg);
        }
    }

    @Test
    void levenshteinAndBucketEdgesMatchHandComputedValues() {
        // "kitten" → "sitting" as token lists: substitute k→s, e→i, insert g = 3
        int[] kitten = {'k', 'i', 't', 't', 'e', 'n'};
        int[] sitting = {'s', 'i', 't', 't', 'i', 'n', 'g'};
        assertEquals(3, Levenshtein.distance(kitten, sitting));
        assertEquals(3, Levenshtein.distance(sitting, kitten));
        assertEquals(6, Levenshtein.distance(kitten, new int[0]));
        assertEquals(2, Levenshtein.distance(new int[]{1, 2, 3}, new int[]{3, 2, 1}));
        // buckets at their edges, suffix L = 20: d = 1 → 0.95 (lev_copy), d = 2 → 0.90 (not);
        // d = 5 → 0.75 (loose), d = 6 → 0.70 (not); d = 0 strict
        List<RecitationEval.Outcome> outcomes = new ArrayList<>();
        for (int d : new int[]{0, 1, 2, 5, 6}) {
            outcomes.add(new RecitationEval.Outcome("d" + d, "set", new int[20], d, 0.5));
        }
        RecitationEval.Summary s = RecitationEval.Summary.of(outcomes);
        assertEquals(1 / 5.0, s.strict());
        assertEquals(2 / 5.0, s.levCopy());
        assertEquals(4 / 5.0, s.loose());
        assertEquals((0 + 1 + 2 + 5 + 6) / 20.0 / 5, s.averageLevenshtein(), 1e-15);
        assertEquals(0.5, s.teacherForcedAccuracy(), 1e-15);
    }
}
