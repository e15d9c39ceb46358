package dev.curvature.transformer.gpt2;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.model.Generator;
import dev.curvature.transformer.model.GreedyReference;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.train.ModelInitializer;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** KV-cached greedy decoding against full recomputation of the sequence for every token (the reference). */
class Gpt2GeneratorTest {

    @Test
    void cachedGenerationEqualsRecomputationTokenForToken() {
        Gpt2Config config = Gpt2Config.of(3, 4, 32, 97, 40);
        try (CpuBackend backend = new CpuBackend(2);
             ParameterSet weights = ParameterSet.allocate(backend, config, DType.F64)) {
            // larger-than-GPT-2 init so the argmax varies from token to token
            ModelInitializer.initialize(weights, 5);
            for (var t : weights.all().values()) {
                backend.scale(t, t, 10.0);
            }
            Gpt2Model model = new Gpt2Model(backend, weights);
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
                long distinct = java.util.Arrays.stream(cached[0]).distinct().count();
                assertTrue(distinct > 3, "the test model must not be degenerate: " + distinct + " distinct tokens");
                var e = assertThrows(IllegalArgumentException.class, () -> generator.greedy(prompts, 40));
                assertTrue(e.getMessage().contains("40 positions"), e.getMessage());
            }
        }
    }
}
