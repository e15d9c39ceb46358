package dev.curvature.kfac;

import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.LinearObserver;
import dev.curvature.transformer.checkpoint.SafetensorsFile;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.Workspace;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

import static dev.curvature.engine.NumericAssertions.relativeError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * K-FAC factor collection on the PyTorch GPT-2 fixture (2 layers, C = 32, batch 2 × 12, 21 counted positions).
 * References: the factors PyTorch wrote, naive sums of the captured rows, finite differences of the summed loss
 * with respect to a layer output, and the engine's own weight gradient for a single counted position.
 */
class KfacCollectorTest {
    static final CpuBackend backend = SharedCpuBackend.get();
    static final Gpt2Model model = Fixtures.model();
    static final int[] ids = Fixtures.ids();
    static final int[] targets = Fixtures.targets();

    static double[] symmetric(dev.curvature.engine.CovarianceAccumulator acc, Arena arena) {
        Tensor out = Tensor.allocate(arena, DType.F64, acc.dim(), acc.dim());
        acc.readSymmetric(out, 1.0);
        return out.toDoubleArray();
    }

    @Test
    void goldFactorsMatchPyTorch() throws Exception {
        try (KfacCollector collector = new KfacCollector(backend, model, LayerSelection.parse(LayerSelection.DEFAULT),
                KfacCollector.Labels.GOLD, 0, CovariancePrecision.F64_EXACT);
             Workspace act = model.workspace(2, 12);
             SafetensorsFile expected = SafetensorsFile.open(Fixtures.gpt2Tiny().resolve("expected-f64.safetensors"));
             Arena arena = Arena.ofConfined()) {
            collector.collect(act, ids, targets);
            assertEquals(List.of("h.0.mlp.c_fc", "h.0.mlp.c_proj", "h.1.mlp.c_fc", "h.1.mlp.c_proj"),
                    new ArrayList<>(collector.factors().keySet()));
            double worst = 0;
            for (KroneckerFactors f : collector.factors().values()) {
                assertEquals((long) expected.tensor("kfac.count").toDoubleArray()[0], f.positions());
                double a = relativeError(expected.tensor("kfac." + f.layer() + ".A").toDoubleArray(),
                        symmetric(f.activations(), arena));
                double g = relativeError(expected.tensor("kfac." + f.layer() + ".G").toDoubleArray(),
                        symmetric(f.gradients(), arena));
                assertTrue(a <= 1e-6 && g <= 1e-6, f.layer() + ": A " + a + ", G " + g);
                worst = Math.max(worst, Math.max(a, g));
            }
            System.out.printf("K-FAC gold factors vs PyTorch: worst relative error %.2e%n", worst);
        }
    }

    @Test
    void activationFactorIsTheNaiveSumOverCountedInputRows() {
        List<double[]> captured = new ArrayList<>();
        LinearObserver capture = new LinearObserver() {
            public boolean observes(String name) {
                return name.equals("h.1.mlp.c_proj");
            }

            public void onInput(String name, Tensor x) {
                captured.add(x.toDoubleArray());
            }

            public void onOutputGradient(String name, Tensor dy) {
            }
        };
        model.addObserver(capture);
        try (KfacCollector collector = new KfacCollector(backend, model, LayerSelection.parse("h.1.mlp.c_proj"),
                KfacCollector.Labels.GOLD, 0, CovariancePrecision.F64_EXACT);
             Workspace act = model.workspace(2, 12);
             Arena arena = Arena.ofConfined()) {
            collector.collect(act, ids, targets);
            double[] x = captured.get(0);
            int d = 128;
            double[] expected = new double[d * d];
            for (int row = 0; row < targets.length; row++) {
                if (targets[row] < 0) {
                    continue;   // the last position of each window and the masked one do not count
                }
                for (int i = 0; i < d; i++) {
                    for (int j = 0; j < d; j++) {
                        expected[i * d + j] += x[row * d + i] * x[row * d + j];
                    }
                }
            }
            double error = relativeError(expected, symmetric(collector.factors().get("h.1.mlp.c_proj").activations(), arena));
            assertTrue(error <= 1e-14, "A vs naive sum: " + error);
        } finally {
            model.removeObserver(capture);
        }
    }

    @Test
    void outputGradientsAreFiniteDifferencesOfTheSummedLoss() {
        String layer = "h.0.mlp.c_fc";   // early layer: later positions' losses reach it through attention
        List<double[]> gradients = new ArrayList<>();
        LinearObserver capture = new LinearObserver() {
            public boolean observes(String name) {
                return name.equals(layer);
            }

            public void onInput(String name, Tensor x) {
            }

            public void onOutputGradient(String name, Tensor dy) {
                gradients.add(dy.toDoubleArray());
            }
        };
        try (Workspace act = model.workspace(2, 12); ParameterSet grads = model.allocateGradients()) {
            model.addObserver(capture);
            model.forward(act, new Batch.Tokens(ids, targets));
            model.backward(act, grads, 1.0);   // the summed loss, as the collector uses
            model.removeObserver(capture);
            double[] g = gradients.get(0);
            int width = 128;
            // the summed loss is ≈ 87: h = 1e-4 keeps rounding (≈ 1e-16·87/h) and truncation (O(h²)) near 1e-10
            double h = 1e-4;
            double worst = 0;
            for (int[] at : new int[][]{{0, 3}, {5, 40}, {13, 127}, {16, 0}, {22, 77}}) {   // (row, column) of y
                double plus = perturbedSummedLoss(act, layer, at[0], at[1], h);
                double minus = perturbedSummedLoss(act, layer, at[0], at[1], -h);
                double numeric = (plus - minus) / (2 * h);
                double analytic = g[at[0] * width + at[1]];
                worst = Math.max(worst, Math.abs(numeric - analytic) / Math.max(1e-6, Math.abs(numeric)));
            }
            assertTrue(worst <= 1e-6, "per-position output gradient vs central differences: " + worst);
        }
    }

    /** Σ over counted positions of the loss, with y[row][column] of {@code layer} shifted by delta. */
    private static double perturbedSummedLoss(Workspace act, String layer, int row, int column, double delta) {
        LinearObserver shift = new LinearObserver() {
            public boolean observes(String name) {
                return name.equals(layer);
            }

            public void onInput(String name, Tensor x) {
            }

            public void onOutput(String name, Tensor y) {
                y.set(y.get(row, column) + delta, row, column);
            }

            public void onOutputGradient(String name, Tensor dy) {
            }
        };
        model.addObserver(shift);
        try {
            double mean = model.forward(act, new Batch.Tokens(ids, targets));
            return mean * act.countedPositions();
        } finally {
            model.removeObserver(shift);
        }
    }

    @Test
    void singlePositionKroneckerProductEqualsTheWeightGradientOuterProduct() {
        // One counted position s; in the last block's MLP y_t reaches only loss_t, so ∇W = g_s x_sᵀ and
        // G ⊗ A = (g gᵀ) ⊗ (x xᵀ) = vec(∇W) vec(∇W)ᵀ with row-major vec, exactly (up to rounding).
        int[] one = new int[targets.length];
        java.util.Arrays.fill(one, -1);
        one[7] = targets[7];
        String layer = "h.1.mlp.c_fc";
        try (KfacCollector collector = new KfacCollector(backend, model, LayerSelection.parse(layer),
                KfacCollector.Labels.GOLD, 0, CovariancePrecision.F64_EXACT);
             Workspace act = model.workspace(2, 12);
             ParameterSet grads = model.allocateGradients();
             Arena arena = Arena.ofConfined()) {
            collector.collect(act, ids, one);
            KroneckerFactors f = collector.factors().get(layer);
            assertEquals(1, f.positions());
            model.forward(act, new Batch.Tokens(ids, one));
            model.backward(act, grads);
            double[] gradW = grads.get(layer + ".weight").toDoubleArray();   // (128, 32) row-major
            double[] a = symmetric(f.activations(), arena);                    // (32, 32)
            double[] g = symmetric(f.gradients(), arena);                      // (128, 128)
            int in = 32, out = 128;
            double diff = 0, norm = 0;
            for (int o = 0; o < out; o++) {
                for (int i = 0; i < in; i++) {
                    for (int o2 = 0; o2 < out; o2++) {
                        for (int i2 = 0; i2 < in; i2++) {
                            double kron = g[o * out + o2] * a[i * in + i2];
                            double outer = gradW[o * in + i] * gradW[o2 * in + i2];
                            diff += (kron - outer) * (kron - outer);
                            norm += outer * outer;
                        }
                    }
                }
            }
            double error = Math.sqrt(diff / norm);
            assertTrue(norm > 0 && error <= 1e-12, "G⊗A vs vec(∇W)vec(∇W)ᵀ: " + error);
        }
    }

    @Test
    void sampledLabelsAreSeededAndDifferFromGold() {
        try (KfacCollector first = new KfacCollector(backend, model, LayerSelection.parse("h.1.mlp.c_proj"),
                KfacCollector.Labels.SAMPLED, 42, CovariancePrecision.F64_EXACT);
             KfacCollector second = new KfacCollector(backend, model, LayerSelection.parse("h.1.mlp.c_proj"),
                     KfacCollector.Labels.SAMPLED, 42, CovariancePrecision.F64_EXACT);
             KfacCollector gold = new KfacCollector(backend, model, LayerSelection.parse("h.1.mlp.c_proj"),
                     KfacCollector.Labels.GOLD, 42, CovariancePrecision.F64_EXACT);
             Workspace act = model.workspace(2, 12);
             Arena arena = Arena.ofConfined()) {
            first.collect(act, ids, targets);
            second.collect(act, ids, targets);
            gold.collect(act, ids, targets);
            double[] g1 = symmetric(first.factors().get("h.1.mlp.c_proj").gradients(), arena);
            double[] g2 = symmetric(second.factors().get("h.1.mlp.c_proj").gradients(), arena);
            double[] gg = symmetric(gold.factors().get("h.1.mlp.c_proj").gradients(), arena);
            assertEquals(0.0, relativeError(g1, g2), "same seed, same factors");
            assertTrue(relativeError(gg, g1) > 1e-3, "sampled labels must change G");
            assertEquals(21, first.factors().get("h.1.mlp.c_proj").positions());
        }
    }

    @Test
    void unknownLayerPatternListsTheLayers() {
        var e = assertThrows(IllegalArgumentException.class, () -> new KfacCollector(backend, model,
                LayerSelection.parse("h.9.mlp.*"), KfacCollector.Labels.GOLD, 0, CovariancePrecision.F64_EXACT));
        assertTrue(e.getMessage().contains("h.9.mlp.*") && e.getMessage().contains("h.0.attn.c_attn"), e.getMessage());
    }
}
