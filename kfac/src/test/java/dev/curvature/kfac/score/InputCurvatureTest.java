package dev.curvature.kfac.score;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.Workspace;
import dev.curvature.transformer.vit.VitConfig;
import dev.curvature.transformer.vit.VitModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static dev.curvature.engine.NumericAssertions.relativeError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The input-curvature score of a tiny F64 ViT (width 8, 1 block, 2 heads, 4 × 4 one-channel images in 2 × 2
 * patches, 3 classes; D = 16 pixels; random weights, std 0.3, so the loss is far from a minimum) against the exact
 * input Hessian H of one sample's loss, built column by column from central differences of its input gradient
 * (ε = 1e-4: truncation O(ε²), roundoff ~1e-12).
 */
class InputCurvatureTest {
    static final CpuBackend backend = SharedCpuBackend.get();
    static final VitConfig CONFIG = VitConfig.of(8, 1, 2, 16, 4, 2, 1, 3);
    static final int D = 16;
    static final int SAMPLE = 1;                       // the sample of the 3-image batch whose Hessian is built
    static ParameterSet weights;
    static VitModel model;
    static double[] pixels;                             // 3 images
    static int[] labels = {2, 0, 1};
    static double[][] hessian;                          // (D, D) of sample SAMPLE, symmetrized

    @BeforeAll
    static void buildModelAndExactHessian() {
        weights = randomWeights(backend, CONFIG, 7);
        model = (VitModel) CONFIG.model(backend, weights);
        Random random = new Random(8);
        pixels = new double[3 * D];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = random.nextDouble();
        }
        double[] x = Arrays.copyOfRange(pixels, SAMPLE * D, (SAMPLE + 1) * D);
        double eps = 1e-4;
        double[][] h = new double[D][];
        try (Workspace ws = model.workspace(1)) {
            for (int j = 0; j < D; j++) {
                double[] plus = x.clone();
                double[] minus = x.clone();
                plus[j] += eps;
                minus[j] -= eps;
                double[] gp = singleGradient(ws, plus);
                double[] gm = singleGradient(ws, minus);
                h[j] = new double[D];
                for (int i = 0; i < D; i++) {
                    h[j][i] = (gp[i] - gm[i]) / (2 * eps);   // column j: ∂(∇ℓ)/∂x_j
                }
            }
        }
        double asymmetry = 0;
        double size = 0;
        hessian = new double[D][D];
        for (int i = 0; i < D; i++) {
            for (int j = 0; j < D; j++) {
                asymmetry += Math.pow(h[j][i] - h[i][j], 2);
                size += h[j][i] * h[j][i];
                hessian[i][j] = (h[j][i] + h[i][j]) / 2;
            }
        }
        System.out.printf("exact input Hessian (16 × 16) of one sample: ‖H − Hᵀ‖_F / ‖H‖_F = %.2e%n",
                Math.sqrt(asymmetry / size));
        assertTrue(Math.sqrt(asymmetry / size) < 1e-6, "central-difference Hessian not symmetric");
    }

    /** F64 weights: LayerNorm gains 1 + 0.1·N(0,1), everything else 0.3·N(0,1), from {@code seed}. */
    static ParameterSet randomWeights(CpuBackend backend, VitConfig config, long seed) {
        ParameterSet p = ParameterSet.allocate(backend, config, DType.F64);
        Random random = new Random(seed);
        for (var e : p.all().entrySet()) {
            Tensor t = e.getValue();
            boolean gain = t.rank() == 1 && e.getKey().contains("layernorm") && e.getKey().endsWith(".weight");
            double[] values = new double[(int) t.size()];
            for (int i = 0; i < values.length; i++) {
                values[i] = gain ? 1 + 0.1 * random.nextGaussian() : 0.3 * random.nextGaussian();
            }
            DType.F64.write(t.storage(), t.offset(), values, 0, values.length);
        }
        return p;
    }

    @AfterAll
    static void close() {
        weights.close();
    }

    /** ∇ₓℓ of a single labelled image (label of SAMPLE), by the model's backward with scale 1. */
    static double[] singleGradient(Workspace ws, double[] x) {
        model.forward(ws, new Batch.Images(x, new int[]{labels[SAMPLE]}));
        model.backward(ws, null, 1.0);
        return model.pixelGradient(ws);
    }

    static double[] times(double[][] a, double[] v) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            for (int j = 0; j < v.length; j++) {
                out[i] += a[i][j] * v[j];
            }
        }
        return out;
    }

    static double[][] square(double[][] a) {
        double[][] out = new double[a.length][];
        for (int j = 0; j < a.length; j++) {
            double[] column = new double[a.length];
            for (int i = 0; i < a.length; i++) {
                column[i] = a[i][j];
            }
            double[] c = times(a, column);
            out[j] = c;
        }
        return out;                                     // a symmetric: (a²) column j = a · a[:, j]
    }

    /** Hutchinson variance per Rademacher draw of vᵀAv, A symmetric: 2(‖A‖_F² − Σ A_jj²). */
    static double rademacherVariance(double[][] a) {
        double v = 0;
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a.length; j++) {
                v += i == j ? 0 : 2 * a[i][j] * a[i][j];
            }
        }
        return v;
    }

    @Test
    void perSampleGradientIsItsOwnLossGradientWhateverTheBatch() {
        // reference: central differences (ε 1e-5) of ℓ_1 in a batch of 1, against the gradient of row 1 in the batch
        // of 3 with scale 1; tolerance 1e-8 relative (FD truncation ~ε²). A batch-mean backward would be off by 3.
        try (Workspace ws3 = model.workspace(3); Workspace ws1 = model.workspace(1)) {
            PixelGradients input = new PixelGradients(model, ws3, new Batch.Images(pixels, labels));
            double[] g = Arrays.copyOfRange(input.gradient(pixels), SAMPLE * D, (SAMPLE + 1) * D);
            double[] x = Arrays.copyOfRange(pixels, SAMPLE * D, (SAMPLE + 1) * D);
            double[] fd = new double[D];
            for (int j = 0; j < D; j++) {
                double[] plus = x.clone();
                double[] minus = x.clone();
                plus[j] += 1e-5;
                minus[j] -= 1e-5;
                fd[j] = (model.forward(ws1, new Batch.Images(plus, new int[]{labels[SAMPLE]}))
                        - model.forward(ws1, new Batch.Images(minus, new int[]{labels[SAMPLE]}))) / 2e-5;
            }
            double error = relativeError(fd, g);
            System.out.printf("per-sample pixel gradient (batch of 3, scale 1) vs central differences of the "
                    + "sample's own loss: relative error %.2e%n", error);
            assertTrue(error < 1e-8, "relative error " + error);
            assertEquals(model.forward(ws1, new Batch.Images(x, new int[]{labels[SAMPLE]})),
                    input.losses()[SAMPLE], 1e-12);
        }
    }

    @Test
    void hutchinsonEstimateMatchesExactTraceOfHessianSquaredWithinMonteCarloError() {
        // reference: tr(H²) = ‖H‖_F² of the exact Hessian; tolerance 4 standard errors of the mean of n = 2000
        // Rademacher draws, SE = sqrt(2(‖H²‖_F² − Σ(H²)_jj²)/n), plus the O(h) finite-difference bias (h = 1e-3).
        int n = 2000;
        double h = 1e-3;
        double exactSquare = 0;
        double exactTrace = 0;
        for (int i = 0; i < D; i++) {
            exactTrace += hessian[i][i];
            for (int j = 0; j < D; j++) {
                exactSquare += hessian[i][j] * hessian[i][j];
            }
        }
        double seSquare = Math.sqrt(rademacherVariance(square(hessian)) / n);
        double seTrace = Math.sqrt(rademacherVariance(hessian) / n);
        InputCurvature.Scores s;
        try (Workspace ws = model.workspace(3)) {
            s = InputCurvature.score(new PixelGradients(model, ws, new Batch.Images(pixels, labels)), 0,
                    new InputCurvature.Options(n, h, 11));
        }
        double estimate = s.squared()[SAMPLE] / (h * h);
        double z = (estimate - exactSquare) / seSquare;
        double zTrace = (s.trace()[SAMPLE] - exactTrace) / seTrace;
        System.out.printf("tr(H²): exact %.6f, Hutchinson (n = %d, h = %.0e) %.6f, relative error %.2e, "
                        + "standard error %.2e (relative %.2e), z = %.2f%n", exactSquare, n, h, estimate,
                Math.abs(estimate / exactSquare - 1), seSquare, seSquare / exactSquare, z);
        System.out.printf("tr(H):  exact %.6f, Hutchinson %.6f, standard error %.2e, z = %.2f%n", exactTrace,
                s.trace()[SAMPLE], seTrace, zTrace);
        assertTrue(Math.abs(z) < 4, "tr(H²) estimate " + z + " standard errors off");
        assertTrue(Math.abs(zTrace) < 4, "tr(H) estimate " + zTrace + " standard errors off");
        assertTrue(s.norm()[SAMPLE] > 0 && s.norm()[SAMPLE] <= Math.sqrt(s.squared()[SAMPLE]) * (1 + 1e-12),
                "mean ‖Δ‖ ≤ sqrt(mean ‖Δ‖²) (Jensen)");
    }

    @Test
    void finiteDifferenceStepMatchesExactHessianVectorProductToFirstOrderInH() {
        // reference: H v with the exact Hessian; the forward difference errs by (h/2)·∇³ℓ[v, v] = O(h): relative
        // error ≤ 10·h at h = 1e-2, 1e-3, 1e-4, and falling about 10× per decade until the Hessian's own ~1e-8.
        double[] v = InputCurvature.rademacher(5, SAMPLE, 0, D);
        double[] hv = times(hessian, v);
        double previous = Double.NaN;
        try (Workspace ws = model.workspace(3)) {
            for (double h : new double[]{1e-2, 1e-3, 1e-4}) {
                PixelGradients input = new PixelGradients(model, ws, new Batch.Images(pixels, labels));
                double[] base = input.gradient(pixels);
                double[] moved = pixels.clone();
                for (int j = 0; j < D; j++) {
                    moved[SAMPLE * D + j] += h * v[j];
                }
                double[] g = input.gradient(moved);
                double[] step = new double[D];
                double squared = 0;
                for (int j = 0; j < D; j++) {
                    double delta = g[SAMPLE * D + j] - base[SAMPLE * D + j];
                    step[j] = delta / h;
                    squared += delta * delta;
                }
                double error = relativeError(hv, step);
                System.out.printf("‖Δ∇/h − Hv‖ / ‖Hv‖ at h = %.0e: %.2e%n", h, error);
                assertTrue(error < 10 * h, "h = " + h + ": relative error " + error);
                if (!Double.isNaN(previous)) {
                    assertTrue(error < previous / 5, "error does not fall with h: " + previous + " → " + error);
                }
                previous = error;
                // the library's one-draw score at this h uses the same vector and the same difference
                InputCurvature.Scores s = InputCurvature.score(input, 0, new InputCurvature.Options(1, h, 5));
                assertEquals(squared, s.squared()[SAMPLE], 1e-12 * squared);
            }
        }
    }

    @Test
    void rademacherDrawsAreSignsSeededBySampleAndDraw() {
        double[] a = InputCurvature.rademacher(3, 10, 0, 4096);
        double sum = 0;
        for (double x : a) {
            assertTrue(x == 1 || x == -1);
            sum += x;
        }
        assertTrue(Math.abs(sum) < 4 * Math.sqrt(4096), "mean far from 0: " + sum / 4096);
        assertTrue(Arrays.equals(a, InputCurvature.rademacher(3, 10, 0, 4096)));
        double[][] others = {InputCurvature.rademacher(3, 11, 0, 4096), InputCurvature.rademacher(3, 10, 1, 4096),
                InputCurvature.rademacher(4, 10, 0, 4096)};
        for (double[] b : others) {
            double dot = 0;
            for (int j = 0; j < a.length; j++) {
                dot += a[j] * b[j];
            }
            assertTrue(Math.abs(dot) < 4 * Math.sqrt(4096), "correlated streams: " + dot);
        }
    }
}
