package dev.curvature.transformer.eval;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.model.GreedyReference;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.tokenizer.ByteTokenizer;
import dev.curvature.transformer.train.ModelInitializer;
import dev.curvature.transformer.workbench.TaskSample;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Exact-answer scoring against the model's own greedy text computed by full recomputation (no KV cache). */
class TaskEvalTest {
    static final CpuBackend backend = SharedCpuBackend.get();

    @Test
    void exactAnswerScoringMatchesAHandCountedCase() {
        // byte-level GPT-2 whose tied head can only rank printable ASCII first: every other byte's embedding
        // row is zero, so its logit is exactly 0 while the best of 95 random printable logits is positive
        Gpt2Config config = Gpt2Config.of(2, 2, 32, 256, 64);
        try (ParameterSet weights = ParameterSet.allocate(backend, config, DType.F64)) {
            ModelInitializer.initialize(weights, 7);
            for (var t : weights.all().values()) {
                backend.scale(t, t, 10.0);
            }
            Tensor wte = weights.get("wte.weight");
            for (int v = 0; v < 256; v++) {
                if (v < 32 || v > 126) {
                    for (int c = 0; c < 32; c++) {
                        wte.set(0.0, v, c);
                    }
                }
            }
            Gpt2Model model = new Gpt2Model(backend, weights);
            ByteTokenizer bytes = new ByteTokenizer();
            String shortPrompt = "Q: where? A:";          // 12 bytes
            String longPrompt = "Q: what is it called? A:"; // 24 bytes: a second prompt-length group
            String shortRef = reference(model, shortPrompt, 6);
            String longRef = reference(model, longPrompt, 6);
            assertTrue(shortRef.chars().allMatch(c -> c >= 32 && c <= 126), shortRef);
            String wrongLast = shortRef.substring(0, 5) + (shortRef.charAt(5) == 'x' ? 'y' : 'x');
            List<TaskSample> samples = List.of(
                    new TaskSample(shortPrompt, shortRef, "facts", "right"),             // correct
                    new TaskSample(shortPrompt, wrongLast, "facts", "wrong-last"),       // one byte off: wrong
                    new TaskSample(shortPrompt, shortRef.substring(0, 3), "facts", "prefix"), // 3 of 3: correct
                    new TaskSample(longPrompt, longRef.substring(0, 4), "sums", "long-right"),   // correct
                    new TaskSample(longPrompt, (longRef.charAt(0) == '~' ? "!" : "~") + longRef.substring(1, 4),
                            "sums", "long-wrong"));                                   // first byte off: wrong
            for (int batch : new int[]{1, 2, 16}) {
                TaskEval.Result result = TaskEval.evaluate(model, bytes, samples, batch);
                // teacher-forced: right 6/6, wrong-last 5/6 (the greedy prefix, then the changed byte), prefix 3/3;
                // long-right 4/4 (long-wrong's later bytes follow a changed prefix: not hand-computable)
                assertEquals(new TaskEval.Summary(3, 2, (1 + 5.0 / 6 + 1) / 3), result.byTask().get("facts"),
                        "batch " + batch);
                assertEquals(2, result.byTask().get("sums").samples());
                assertEquals(1, result.byTask().get("sums").correct());
                assertEquals(List.of(1.0, 5.0 / 6, 1.0, 1.0),
                        result.outcomes().subList(0, 4).stream().map(TaskEval.Outcome::teacherForced).toList());
                assertEquals(List.of("facts", "sums"), List.copyOf(result.byTask().keySet()));
                assertEquals(List.of(true, false, true, true, false),
                        result.outcomes().stream().map(TaskEval.Outcome::correct).toList());
                assertEquals(shortRef, result.outcomes().get(0).generated());
                assertFalse(result.outcomes().get(1).correct());
            }
            var tooLong = List.of(new TaskSample("x".repeat(60), "12345.", "sums", "overlong"));
            var e = assertThrows(IllegalArgumentException.class, () -> TaskEval.evaluate(model, bytes, tooLong, 4));
            assertTrue(e.getMessage().contains("overlong") && e.getMessage().contains("64 positions"),
                    e.getMessage());
        }
    }

    /** {@code n} greedy bytes after {@code prompt}, by recomputing the whole sequence for every byte. */
    private static String reference(Gpt2Model model, String prompt, int n) {
        byte[] p = prompt.getBytes(StandardCharsets.US_ASCII);
        int[] ids = new int[p.length];
        for (int i = 0; i < p.length; i++) {
            ids[i] = p[i];
        }
        int[] out = GreedyReference.greedyByRecomputation(model, new int[][]{ids}, n)[0];
        StringBuilder s = new StringBuilder();
        for (int t : out) {
            s.append((char) t);
        }
        return s.toString();
    }

    @Test
    void correlationMatchesHandComputedValues() {
        // x = 1..5, y = 2x + 1 → r = 1; y reversed → r = -1; Spearman of a monotone non-linear map → 1
        double[] x = {1, 2, 3, 4, 5};
        assertEquals(1.0, Correlation.pearson(x, new double[]{3, 5, 7, 9, 11}), 1e-15);
        assertEquals(-1.0, Correlation.pearson(x, new double[]{11, 9, 7, 5, 3}), 1e-15);
        assertEquals(1.0, Correlation.spearman(x, new double[]{1, 8, 27, 64, 125}), 1e-15);
        // hand-computed: x = (1,2,3), y = (1,3,2): x̄ = 2, ȳ = 2, Σdxdy = 1, Σdx² = 2, Σdy² = 2 → r = 0.5
        assertEquals(0.5, Correlation.pearson(new double[]{1, 2, 3}, new double[]{1, 3, 2}), 1e-15);
        // ties: ranks of (1, 1, 2) are (1.5, 1.5, 3)
        assertEquals(List.of(1.5, 1.5, 3.0),
                java.util.Arrays.stream(Correlation.ranks(new double[]{1, 1, 2})).boxed().toList());
        assertTrue(Double.isNaN(Correlation.pearson(x, new double[]{2, 2, 2, 2, 2})));
    }
}
