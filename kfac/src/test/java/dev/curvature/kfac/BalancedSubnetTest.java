package dev.curvature.kfac;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.transformer.gpt2.Gpt2Model;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * BalancedSubnet on the float64 GPT-2 fixture: forget = the first fixture window, retain = the second. References:
 * central finite differences of the objective in the mask (the gradient the straight-through estimator passes to the
 * scores), the closed form of the first SGD step, a naive count of the dropped weights, and the original weights.
 */
class BalancedSubnetTest {
    static final CpuBackend backend = SharedCpuBackend.get();
    static final List<String> LAYERS = List.of("h.0.mlp.c_fc", "h.1.mlp.c_proj");
    static final int[] ids = Fixtures.ids();

    static BalancedSubnet subnet(Gpt2Model model, double ratio, int steps) {
        return new BalancedSubnet(backend, model, LAYERS, List.of(Arrays.copyOfRange(ids, 0, 12)),
                Arrays.copyOfRange(ids, 12, 24), 12, new BalancedSubnet.Options(ratio, 0.7, 0.3, 0.9, steps, 1, 5));
    }

    @Test
    void theMaskGradientIsTheFiniteDifferenceOfTheObjective() throws Exception {
        Gpt2Model model = ModelEditorTest.freshModel();
        try (BalancedSubnet subnet = subnet(model, 0.05, 0)) {
            Map<String, double[]> masks = subnet.masks();   // a binary mask with 5 % of each layer dropped
            Map<String, double[]> gradient = subnet.maskGradient(masks);
            // L ≈ 2 in float64, rounded to ~1e-14 relative over the forward's sums: central differences with
            // h = 1e-3 carry ~1e-11 absolute rounding noise. Most entries are ≈ 1e-5 (held to 1e-6 relative); a few
            // are ≈ 1e-7 (h.1.mlp.c_proj[4095]: 1.6e-7), where that noise floor, not the relative bound, applies.
            double h = 1e-3;
            double noiseFloor = 1e-11;
            double worst = 0;
            for (String layer : LAYERS) {
                double[] m = masks.get(layer);
                int dropped = -1;
                for (int k = 0; k < m.length && dropped < 0; k++) {
                    dropped = m[k] == 0 ? k : -1;
                }
                for (int k : new int[]{0, 17, 1000, 4095, dropped}) {
                    double[] gm = gradient.get(layer);
                    double plus = objectiveAt(subnet, masks, layer, k, h);
                    double minus = objectiveAt(subnet, masks, layer, k, -h);
                    double numeric = (plus - minus) / (2 * h);
                    double error = Math.abs(numeric - gm[k]) / Math.max(1e-8, Math.abs(numeric));
                    assertTrue(Math.abs(numeric - gm[k]) <= 1e-6 * Math.abs(numeric) + noiseFloor,
                            layer + "[" + k + "]: ∂L/∂m " + gm[k] + " vs " + numeric);
                    worst = Math.max(worst, error);
                }
            }
            System.out.printf("BalancedSubnet ∂L/∂m vs central differences: worst relative error %.2e%n", worst);
        } finally {
            model.parameters().close();
        }
    }

    private static double objectiveAt(BalancedSubnet subnet, Map<String, double[]> masks, String layer, int k,
                                      double delta) {
        Map<String, double[]> shifted = new LinkedHashMap<>();
        masks.forEach((name, m) -> shifted.put(name, m.clone()));
        shifted.get(layer)[k] += delta;
        return subnet.objective(shifted, 0).value();
    }

    @Test
    void theFirstStepMovesEachScoreByTheStraightThroughGradientAndTheMaskDropsTheTopScores() throws Exception {
        Gpt2Model model = ModelEditorTest.freshModel();
        double[] before = ModelEditorTest.allWeights(model);
        try (BalancedSubnet reference = subnet(model, 0.02, 0)) {
            Map<String, double[]> initial = new LinkedHashMap<>();
            LAYERS.forEach(l -> initial.put(l, reference.scores(l).clone()));
            Map<String, double[]> gradient = reference.maskGradient(reference.masks());
            reference.restore();
            try (BalancedSubnet trained = subnet(model, 0.02, 1)) {
                List<BalancedSubnet.Step> history = trained.train(step -> { });
                assertEquals(1, history.size());
                for (String layer : LAYERS) {
                    double[] s0 = initial.get(layer);
                    double[] s1 = trained.scores(layer);
                    double[] gm = gradient.get(layer);
                    for (int k = 0; k < s0.length; k++) {
                        // v = ∂L/∂s = −sign(s)·∂L/∂m with s > 0, s ← s − 0.3 v
                        assertEquals(s0[k] + 0.3 * gm[k], s1[k], 1e-15, layer + "[" + k + "]");
                    }
                    // the mask drops ⌈0.02·n⌉ weights: exactly those of the largest scores
                    double[] sorted = s1.clone();
                    Arrays.sort(sorted);
                    int drop = (int) Math.ceil(0.02 * s1.length);
                    double threshold = sorted[s1.length - drop];
                    double[] w = trained.outcome().stream().filter(o -> o.layer().equals(layer)).findFirst()
                            .map(o -> new double[]{o.dropped(), o.total()}).orElseThrow();
                    assertEquals(drop, (long) w[0]);
                    double[] edited = model.parameters().get(layer + ".weight").toDoubleArray();
                    int zeroed = 0;
                    for (int k = 0; k < s1.length; k++) {
                        if (s1[k] >= threshold) {
                            assertEquals(0.0, edited[k], layer + "[" + k + "] has a top score: dropped");
                            zeroed++;
                        }
                    }
                    assertEquals(drop, zeroed, "no ties at the threshold");
                }
                trained.restore();
            }
            assertArrayEquals(before, ModelEditorTest.allWeights(model), "restored bit for bit");
        } finally {
            model.parameters().close();
        }
    }

    @Test
    void trainingRaisesTheForgetLossAndBadOptionsAreRefused() throws Exception {
        Gpt2Model model = ModelEditorTest.freshModel();
        try (BalancedSubnet subnet = subnet(model, 0.05, 8)) {
            List<BalancedSubnet.Step> history = subnet.train(step -> { });
            BalancedSubnet.Objective end = subnet.objective(subnet.masks(), 0);
            assertTrue(end.value() < history.get(0).objective(), "the objective falls: " + history.get(0).objective()
                    + " → " + end.value());
        } finally {
            model.parameters().close();
        }
        assertThrows(IllegalArgumentException.class, () -> new BalancedSubnet.Options(1.5, 0.7, 0.3, 0.9, 1, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new BalancedSubnet.Options(0.1, 0.7, 0.3, 1.0, 1, 1, 0));
    }
}
