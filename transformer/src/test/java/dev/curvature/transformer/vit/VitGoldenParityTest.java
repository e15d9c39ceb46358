package dev.curvature.transformer.vit;

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
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Golden parity with PyTorch for the vision transformer: the fixture in src/test/resources/vit-tiny (HF
 * {@code ViTForImageClassification} semantics: Conv2d patch embedding, CLS token, learned positions, pre-LayerNorm
 * blocks with q/k/v biases and bidirectional attention, tanh GELU, classifier on CLS; hidden 16, 2 layers, 2 heads,
 * 8 × 8 images of 2 channels in 4 × 4 patches, 3 labels) was written by
 * src/test/fixtures/vit/generate_vit_fixture.py (plain PyTorch, HF naming) — logits, loss, every parameter gradient
 * of the mean loss, the pixel gradient and the input-embedding gradient for 3 images of which image 1 is unscored, in
 * float32 and float64 from the same float32 weights. Tolerance: relative Frobenius error per tensor ≤ 1e-5 (F32),
 * ≤ 1e-10 (F64). The key biases' gradient is zero mathematically (softmax ignores the q·b_k shared by a row's
 * scores), so both sides hold rounding noise: it is compared with an absolute bound, ‖difference‖ ≤ tolerance ×
 * ‖the query bias gradient of the same block‖.
 */
class VitGoldenParityTest {
    static final CpuBackend backend = SharedCpuBackend.get();
    static final int IMAGES = 3;

    static Path fixture() throws Exception {
        return Path.of(VitGoldenParityTest.class.getResource("/vit-tiny/config.json").toURI()).getParent();
    }

    static double norm(double[] values) {
        double sum = 0;
        for (double v : values) {
            sum += v * v;
        }
        return Math.sqrt(sum);
    }

    static double differenceNorm(double[] expected, double[] actual) {
        assertEquals(expected.length, actual.length, "length");
        double sum = 0;
        for (int i = 0; i < expected.length; i++) {
            double d = expected[i] - actual[i];
            sum += d * d;
        }
        return Math.sqrt(sum);
    }

    @ParameterizedTest(name = "vit-tiny {0}")
    @CsvSource({"F32, expected-f32.safetensors, 1e-5", "F64, expected-f64.safetensors, 1e-10"})
    void logitsLossAndEveryGradientMatchPyTorch(DType dtype, String expectedFile, double tolerance) throws Exception {
        Path dir = fixture();
        Model model = ModelCheckpoints.load(backend, dir, dtype);
        VitModel vit = assertInstanceOf(VitModel.class, model);
        assertEquals("vit", model.config().modelType());
        try (SafetensorsFile expected = SafetensorsFile.open(dir.resolve(expectedFile));
             Workspace act = vit.workspace(IMAGES);
             ParameterSet grads = model.allocateGradients();
             ParameterSet weights = model.parameters()) {
            double[] pixels = expected.tensor("pixel_values").toDoubleArray();      // (B, ch, H, W)
            int[] labels = NumericAssertions.intValues(expected.tensor("labels"));
            assertEquals(-1, labels[1]);
            double loss = model.forward(act, new Batch.Images(pixels, labels));
            assertEquals(2, act.countedPositions());
            double logitsError = relativeError(expected.tensor("logits").toDoubleArray(), act.logits().toDoubleArray());
            assertTrue(logitsError <= tolerance, "logits: " + logitsError);
            double expectedLoss = expected.tensor("loss").toDoubleArray()[0];
            assertEquals(expectedLoss, loss, tolerance * Math.abs(expectedLoss), "loss");

            model.backward(act, grads);
            double worst = 0;
            String worstName = "";
            double worstKeyBias = 0;
            for (String parameter : grads.names()) {
                double[] want = expected.tensor("grad." + parameter).toDoubleArray();
                double[] got = grads.get(parameter).toDoubleArray();
                if (parameter.endsWith("attention.attention.key.bias")) {
                    String query = parameter.replace(".key.bias", ".query.bias");
                    double bound = tolerance * norm(expected.tensor("grad." + query).toDoubleArray());
                    double difference = differenceNorm(want, got);
                    worstKeyBias = Math.max(worstKeyBias, difference);
                    assertTrue(difference <= bound, parameter + ": |difference| " + difference + " > " + bound);
                    continue;
                }
                double error = relativeError(want, got);
                if (error > worst) {
                    worst = error;
                    worstName = parameter;
                }
                assertTrue(error <= tolerance, parameter + ": relative error " + error);
            }
            assertEquals(weights.names().size(), grads.names().size());
            double pixelError = relativeError(expected.tensor("grad.pixel_values").toDoubleArray(),
                    vit.pixelGradient(act));
            assertTrue(pixelError <= tolerance, "pixels: " + pixelError);
            double embeddings = relativeError(expected.tensor("grad.input_embeddings").toDoubleArray(),
                    act.inputEmbeddingGradient().toDoubleArray());
            assertTrue(embeddings <= tolerance, "input embeddings: " + embeddings);
            System.out.printf("vit-tiny %s: logits %.2e, loss %.2e, worst gradient %.2e (%s), key bias |diff| %.2e, "
                            + "pixels %.2e, input embeddings %.2e%n", dtype, logitsError,
                    Math.abs(loss - expectedLoss) / Math.abs(expectedLoss), worst, worstName, worstKeyBias,
                    pixelError, embeddings);
        }
    }
}
