package dev.curvature.transformer.llama;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.NumericAssertions;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.checkpoint.SafetensorsFile;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.Workspace;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

import static dev.curvature.engine.NumericAssertions.relativeError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Golden parity with PyTorch for both Llama-family variants: the fixtures in src/test/resources/llama-tiny (Llama:
 * GQA with 2 query heads per KV head, Llama-3 rope scaling, untied head) and olmo2-tiny (OLMo-2: post-norms, QK-norm,
 * tied head) were written by src/test/fixtures/llama/generate_llama_fixture.py (plain PyTorch, HF naming) — logits,
 * loss, every parameter gradient of the mean loss and the input-embedding gradient, in float32 and float64 from the
 * same float32 weights. Tolerance: relative Frobenius error per tensor ≤ 1e-5 (F32), ≤ 1e-10 (F64).
 */
class LlamaGoldenParityTest {
    static final CpuBackend backend = SharedCpuBackend.get();

    static Path fixture(String dir) throws Exception {
        return Path.of(LlamaGoldenParityTest.class.getResource("/" + dir + "/config.json").toURI()).getParent();
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"llama-tiny, F32, expected-f32.safetensors, 1e-5", "llama-tiny, F64, expected-f64.safetensors, 1e-10",
            "olmo2-tiny, F32, expected-f32.safetensors, 1e-5", "olmo2-tiny, F64, expected-f64.safetensors, 1e-10"})
    void logitsLossAndEveryGradientMatchPyTorch(String name, DType dtype, String expectedFile, double tolerance)
            throws Exception {
        Path dir = fixture(name);
        Model model = ModelCheckpoints.load(backend, dir, dtype);
        try (SafetensorsFile expected = SafetensorsFile.open(dir.resolve(expectedFile));
             Workspace act = model.workspace(2, 12);
             ParameterSet grads = model.allocateGradients();
             ParameterSet weights = model.parameters()) {
            assertEquals(name.startsWith("olmo2") ? "olmo2" : "llama", model.config().modelType());
            int[] ids = NumericAssertions.intValues(expected.tensor("input_ids"));
            int[] targets = NumericAssertions.intValues(expected.tensor("targets"));
            double loss = model.forward(act, new Batch.Tokens(ids, targets));
            double logitsError = relativeError(expected.tensor("logits").toDoubleArray(), act.logits().toDoubleArray());
            assertTrue(logitsError <= tolerance, "logits: " + logitsError);
            double expectedLoss = expected.tensor("loss").toDoubleArray()[0];
            assertEquals(expectedLoss, loss, tolerance * Math.abs(expectedLoss), "loss");
            assertEquals(21, act.countedPositions());

            model.backward(act, grads);
            double worst = 0;
            String worstName = "";
            for (String parameter : grads.names()) {
                double error = relativeError(expected.tensor("grad." + parameter).toDoubleArray(),
                        grads.get(parameter).toDoubleArray());
                if (error > worst) {
                    worst = error;
                    worstName = parameter;
                }
                assertTrue(error <= tolerance, parameter + ": relative error " + error);
            }
            assertEquals(weights.names().size(), grads.names().size());
            double embeddings = relativeError(expected.tensor("grad.input_embeddings").toDoubleArray(),
                    act.inputEmbeddingGradient().toDoubleArray());
            assertTrue(embeddings <= tolerance, "input embeddings: " + embeddings);
            System.out.printf("%s %s: logits %.2e, worst gradient %.2e (%s), input embeddings %.2e%n", name, dtype,
                    logitsError, worst, worstName, embeddings);
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"llama-tiny", "olmo2-tiny"})
    void rotaryInverseFrequenciesMatchPyTorch(String name) throws Exception {
        Path dir = fixture(name);
        LlamaConfig config = LlamaConfig.read(dir.resolve("config.json"));
        try (SafetensorsFile expected = SafetensorsFile.open(dir.resolve("expected-f64.safetensors"))) {
            double error = relativeError(expected.tensor("rope.inv_freq").toDoubleArray(), config.inverseFrequencies());
            assertTrue(error <= 1e-15, "inv_freq: " + error);
        }
    }
}
