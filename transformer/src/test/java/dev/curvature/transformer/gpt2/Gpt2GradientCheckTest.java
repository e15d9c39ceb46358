package dev.curvature.transformer.gpt2;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.GradientChecks;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.Workspace;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Set;

/**
 * Every gradient of a tiny GPT-2 (2 layers, d = 16, 2 heads, vocab 50, T = 8, batch 2, float64) against central
 * finite differences of the loss (h = 1e-6): relative Frobenius error ≤ 1e-6 for every parameter tensor and for the
 * input embeddings. LayerNorm weights/biases and all biases are random, so every path carries signal.
 */
class Gpt2GradientCheckTest {
    static CpuBackend backend;

    @BeforeAll
    static void open() {
        backend = new CpuBackend(1);
    }

    @AfterAll
    static void close() {
        backend.close();
    }

    static void randomize(ParameterSet p, long seed) {
        GradientChecks.randomize(p, seed, name -> name.contains("ln_") && name.endsWith(".weight"), 0.1, 0.3);
    }

    @Test
    void everyGradientMatchesFiniteDifferences() {
        Gpt2Config config = Gpt2Config.of(2, 2, 16, 50, 8);
        Batch.Tokens tokens = GradientChecks.tokens(2, 8, 50, 3);
        try (ParameterSet weights = ParameterSet.allocate(backend, config, DType.F64)) {
            randomize(weights, 11);
            Gpt2Model model = new Gpt2Model(backend, weights);
            try (Workspace act = model.workspace(2, 8)) {
                GradientChecks.Worst worst = GradientChecks.everyParameter(model, act, tokens, 1e-6, Set.of());
                // input embeddings: perturb x₀ = wte[ids] + wpe[t] directly and rerun from there
                double inputError = GradientChecks.inputEmbeddings(model, act, tokens, 1e-6);
                System.out.printf("finite differences: worst parameter tensor %s %.2e, input embeddings %.2e%n",
                        worst.tensor(), worst.error(), inputError);
            }
        }
    }
}
