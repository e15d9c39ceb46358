package dev.curvature.transformer.vit;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.GradientChecks;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.Workspace;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.Set;

import static dev.curvature.engine.NumericAssertions.relativeError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every gradient of a tiny vision transformer (2 blocks, C = 8, 2 heads, MLP 12, 2-channel 4 × 4 images in 2 × 2
 * patches: T = 5 tokens, 3 classes, 3 images of which one is not scored, float64) against central finite
 * differences of the loss (h = 1e-6): relative Frobenius error ≤ 1e-6 for every parameter tensor, the input token
 * embeddings and the pixels. LayerNorm weights and biases are random, so every path carries signal. The key bias
 * is the exception that proves the check: softmax is invariant to adding q·b to every score of a row, so its
 * gradient is exactly zero, and both sides must be (absolute ≤ 1e-9).
 */
class VitGradientCheckTest {
    static CpuBackend backend;
    static final VitConfig CONFIG = VitConfig.of(8, 2, 2, 12, 4, 2, 2, 3);

    @BeforeAll
    static void open() {
        backend = new CpuBackend(1);
    }

    @AfterAll
    static void close() {
        backend.close();
    }

    static void randomize(ParameterSet p, long seed) {
        GradientChecks.randomize(p, seed, name -> name.contains("layernorm") && name.endsWith(".weight"), 0.2, 0.4);
    }

    static double[] images(int count, long seed) {
        Random random = new Random(seed);
        double[] pixels = new double[count * CONFIG.imageValues()];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = random.nextDouble();
        }
        return pixels;
    }

    @Test
    void everyGradientMatchesFiniteDifferences() {
        double[] pixels = images(3, 2);
        int[] labels = {2, -1, 0};
        Batch.Images batch = new Batch.Images(pixels, labels);
        try (ParameterSet weights = ParameterSet.allocate(backend, CONFIG, DType.F64)) {
            randomize(weights, 11);
            VitModel model = new VitModel(backend, weights);
            try (Workspace act = model.workspace(3); ParameterSet grads = model.allocateGradients()) {
                model.forward(act, batch);
                assertEquals(2, act.countedPositions());
                GradientChecks.Worst worst = GradientChecks.everyParameter(model, act, batch, 1e-6,
                        Set.of("attention.key.bias"));
                double tokenError = GradientChecks.inputEmbeddings(model, act, batch, 1e-6);
                model.forward(act, batch);
                model.backward(act, grads);
                double[] analyticPixels = model.pixelGradient(act);
                double[] numericPixels = new double[pixels.length];
                for (int i = 0; i < pixels.length; i++) {
                    double keep = pixels[i];
                    pixels[i] = keep + 1e-6;
                    double up = model.forward(act, batch);
                    pixels[i] = keep - 1e-6;
                    double down = model.forward(act, batch);
                    pixels[i] = keep;
                    numericPixels[i] = (up - down) / 2e-6;
                }
                double pixelError = relativeError(numericPixels, analyticPixels);
                assertTrue(pixelError <= 1e-6, "pixels: " + pixelError);
                System.out.printf("ViT finite differences: worst parameter tensor %s %.2e, input embeddings %.2e, "
                        + "pixels %.2e%n", worst.tensor(), worst.error(), tokenError, pixelError);
            }
        }
    }

    @Test
    void patchesAndPixelsAreInverseAndFollowTheConvolutionKernelLayout() {
        try (ParameterSet weights = ParameterSet.allocate(backend, CONFIG, DType.F64)) {
            VitModel model = new VitModel(backend, weights);
            double[] pixels = images(2, 5);
            double[] patches = model.patches(pixels, 2);
            assertArrayEquals(pixels, model.pixels(patches, 2));
            // reference: image 1, patch (py = 1, px = 0), channel 1, row i = 1, column j = 0 sits at
            // pixel ((1·2 + 1)·4 + 1·2 + 1)·4 + 0·2 + 0 = 60 of the image and value (1·2 + 1)·2 + 0 = 6 of the patch
            int patchRow = 1 * CONFIG.patches() + 1 * 2 + 0;
            assertEquals(pixels[CONFIG.imageValues() + ((1 * 4) + 2 + 1) * 4], patches[patchRow * 8 + 6]);
        }
    }

    @Test
    void workspaceSizeFormulaEqualsTheBuffersAllocated() {
        try (ParameterSet weights = ParameterSet.allocate(backend, CONFIG, DType.F32)) {
            VitModel model = new VitModel(backend, weights);
            for (int batch : new int[]{1, 3, 8}) {
                try (Workspace ws = model.workspace(batch)) {
                    assertEquals(CONFIG.workspaceBytes(batch, CONFIG.contextLength(), DType.F32), ws.bytes(),
                            "batch " + batch);
                }
            }
        }
    }
}
