package dev.curvature.transformer.gpt2;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.NumericAssertions;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.Gpt2TensorCatalogue;
import dev.curvature.transformer.checkpoint.SafetensorsFile;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.Workspace;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.curvature.engine.NumericAssertions.relativeError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Golden parity with PyTorch: the fixture in src/test/resources/gpt2-tiny was written by
 * src/test/fixtures/gpt2/generate_gpt2_fixture.py (a plain-PyTorch GPT-2, HF naming) — logits, loss, every
 * parameter gradient and the input-embedding gradient, in float32 and float64 from the same float32 weights.
 * Tolerance: relative Frobenius error per tensor ≤ 1e-4 (F32), ≤ 1e-10 (F64).
 */
class Gpt2GoldenParityTest {
    static final CpuBackend backend = SharedCpuBackend.get();

    static Path fixture(String file) throws Exception {
        return Path.of(Gpt2GoldenParityTest.class.getResource("/gpt2-tiny/" + file).toURI());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"F32, expected-f32.safetensors, 1e-4", "F64, expected-f64.safetensors, 1e-10"})
    void logitsLossAndEveryGradientMatchPyTorch(DType dtype, String expectedFile, double tolerance) throws Exception {
        Path dir = fixture("config.json").getParent();
        Gpt2Model model = Gpt2Checkpoints.load(backend, dir, dtype);
        try (SafetensorsFile expected = SafetensorsFile.open(fixture(expectedFile));
             Workspace act = model.workspace(2, 12);
             ParameterSet grads = model.allocateGradients();
             Arena arena = Arena.ofConfined()) {
            int[] ids = NumericAssertions.intValues(expected.tensor("input_ids"));
            int[] targets = NumericAssertions.intValues(expected.tensor("targets"));
            double loss = model.forward(act, new Batch.Tokens(ids, targets));
            List<String> report = new ArrayList<>();
            double logitsError = relativeError(expected.tensor("logits").toDoubleArray(), act.logits().toDoubleArray());
            report.add(String.format("logits %.2e", logitsError));
            assertTrue(logitsError <= tolerance, "logits: " + logitsError);
            double expectedLoss = expected.tensor("loss").toDoubleArray()[0];
            assertEquals(expectedLoss, loss, tolerance * Math.abs(expectedLoss), "loss");
            assertEquals(21, act.countedPositions());

            model.backward(act, grads);
            double worst = 0;
            for (String name : grads.names()) {
                Tensor mine = grads.get(name);
                Tensor theirs = expected.tensor("grad." + name);
                // the fixture stores gradients in HF layout: Conv1D weights (in, out)
                Tensor aligned = Gpt2TensorCatalogue.storedTransposed(name) ? theirs.transpose(0, 1) : theirs;
                double error = relativeError(aligned.toDoubleArray(), mine.toDoubleArray());
                worst = Math.max(worst, error);
                assertTrue(error <= tolerance, "grad." + name + ": " + error);
            }
            report.add(String.format("worst parameter gradient %.2e over %d tensors", worst, grads.names().size()));
            double inputError = relativeError(expected.tensor("grad.input_embeddings").toDoubleArray(),
                    act.inputEmbeddingGradient().toDoubleArray());
            report.add(String.format("input embeddings %.2e", inputError));
            assertTrue(inputError <= tolerance, "grad.input_embeddings: " + inputError);
            System.out.println("golden parity " + dtype + ": " + String.join(", ", report));
        } finally {
            model.weights().close();
        }
    }
}
