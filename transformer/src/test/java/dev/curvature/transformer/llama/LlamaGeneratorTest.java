package dev.curvature.transformer.llama;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.model.Generator;
import dev.curvature.transformer.model.GreedyReference;
import dev.curvature.transformer.model.ParameterSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * KV-cached greedy decoding of Llama and OLMo-2 (GQA, rotary at the cached positions, QK-norm) against full
 * recomputation of the sequence for every token (the reference), in F64, token for token.
 */
class LlamaGeneratorTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource({"llama", "olmo2"})
    void cachedGenerationEqualsRecomputationTokenForToken(String type) {
        LlamaConfig config = LlamaConfig.of(type, 32, 40, 3, 4, 2, 97, 40, false);
        try (CpuBackend backend = new CpuBackend(2);
             ParameterSet weights = ParameterSet.allocate(backend, config, DType.F64)) {
            LlamaGradientCheckTest.randomize(weights, 7);
            LlamaModel model = new LlamaModel(backend, weights);
            Random random = new Random(1);
            int[][] prompts = new int[3][7];
            for (int[] prompt : prompts) {
                for (int i = 0; i < prompt.length; i++) {
                    prompt[i] = random.nextInt(97);
                }
            }
            int[][] reference = GreedyReference.greedyByRecomputation(model, prompts, 25);
            try (Generator generator = new Generator(model, 3)) {
                int[][] cached = generator.greedy(prompts, 25);
                for (int b = 0; b < 3; b++) {
                    assertArrayEquals(reference[b], cached[b], "sequence " + b);
                }
                long distinct = Arrays.stream(cached[0]).distinct().count();
                assertTrue(distinct > 3, "the test model must not be degenerate: " + distinct + " distinct tokens");
            }
        }
    }
}
