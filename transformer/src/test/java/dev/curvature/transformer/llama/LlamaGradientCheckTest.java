package dev.curvature.transformer.llama;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.GradientChecks;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.Workspace;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every gradient of tiny Llama-family models (2 layers, C = 16, 4 query heads over 2 KV heads of size 4, I = 24,
 * vocab 40, T = 8, batch 2, float64) against central finite differences of the loss (h = 1e-6): relative Frobenius
 * error ≤ 1e-6 for every parameter tensor and for the input embeddings. Covers RMSNorm, rotary (with Llama-3 scaling),
 * grouped-query attention, SwiGLU, OLMo-2's post-norms and QK-norm, tied and untied heads. Norm weights are random.
 */
class LlamaGradientCheckTest {
    static CpuBackend backend;

    @BeforeAll
    static void open() {
        backend = new CpuBackend(1);
    }

    @AfterAll
    static void close() {
        backend.close();
    }

    static LlamaConfig config(String type, boolean tied, boolean scaled) {
        LlamaConfig c = LlamaConfig.of(type, 16, 24, 2, 4, 2, 40, 16, tied);
        LlamaConfig.RopeScaling scaling = scaled ? new LlamaConfig.RopeScaling(4.0, 1.0, 4.0, 8) : null;
        return new LlamaConfig(c.modelType(), c.hiddenSize(), c.intermediateSize(), c.layers(), c.heads(), c.kvHeads(),
                c.headDim(), c.vocabSize(), c.maxPositions(), c.rmsNormEps(), 1000.0, scaling, tied, null);
    }

    static void randomize(ParameterSet p, long seed) {
        GradientChecks.randomize(p, seed, name -> p.get(name).rank() == 1, 0.2, 0.4);
    }

    @ParameterizedTest(name = "{0} tied={1} rope scaling={2}")
    @CsvSource({"llama, false, true", "llama, true, false", "olmo2, false, false", "olmo2, true, true"})
    void everyGradientMatchesFiniteDifferences(String type, boolean tied, boolean scaled) {
        LlamaConfig config = config(type, tied, scaled);
        Batch.Tokens tokens = GradientChecks.tokens(2, 8, config.vocabSize(), 3);
        try (ParameterSet weights = ParameterSet.allocate(backend, config, DType.F64)) {
            randomize(weights, 11);
            LlamaModel model = new LlamaModel(backend, weights);
            try (Workspace act = model.workspace(2, 8)) {
                GradientChecks.Worst worst = GradientChecks.everyParameter(model, act, tokens, 1e-6, Set.of());
                double inputError = GradientChecks.inputEmbeddings(model, act, tokens, 1e-6);
                System.out.printf("%s tied=%b scaled=%b finite differences: worst parameter tensor %s %.2e, input "
                        + "embeddings %.2e%n", type, tied, scaled, worst.tensor(), worst.error(), inputError);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"llama", "olmo2"})
    void backwardWithoutParameterGradientsGivesTheSameInputGradient(String type) {
        LlamaConfig config = config(type, false, true);
        int[] ids = {1, 5, 9, 2, 7, 3, 3, 8};
        int[] targets = {5, 9, 2, 7, 3, 3, 8, -1};
        try (ParameterSet weights = ParameterSet.allocate(backend, config, DType.F64)) {
            randomize(weights, 5);
            LlamaModel model = new LlamaModel(backend, weights);
            try (Workspace act = model.workspace(1, 8); ParameterSet grads = model.allocateGradients()) {
                model.forward(act, new Batch.Tokens(ids, targets));
                model.backward(act, grads, 1.0);
                double[] full = act.inputEmbeddingGradient().toDoubleArray();
                model.forward(act, new Batch.Tokens(ids, targets));
                model.backward(act, null, 1.0);
                double[] inputsOnly = act.inputEmbeddingGradient().toDoubleArray();
                assertTrue(java.util.Arrays.equals(full, inputsOnly), "the input gradient must not depend on grads");
            }
        }
    }
}
