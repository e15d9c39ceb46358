package dev.curvature.kfac;

import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.LinearObserver;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.Workspace;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.curvature.engine.NumericAssertions.relativeError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * EK-FAC's second pass on the float64 PyTorch GPT-2 fixture (2 blocks, C = 32, 2 windows × 12 tokens). References:
 * the model's own full backward of each window alone with explicit weight gradients, rotated into the eigenbasis by
 * naive loops and squared (the exact per-example Fisher diagonal in the eigenbasis); naive loops over the observed
 * rows for the token-level variant; and the closed form of a single counted position, where Λ = λ ⊗ μ.
 */
class EkfacCollectorTest {
    static final CpuBackend backend = SharedCpuBackend.get();
    static final Gpt2Model model = Fixtures.model();
    static final int[] ids = Fixtures.ids();
    static final int[] targets = Fixtures.targets();
    static final int windows = 2;
    static final int time = 12;
    static final List<String> layers = List.of("h.0.mlp.c_fc", "h.0.mlp.c_proj", "h.1.mlp.c_fc", "h.1.mlp.c_proj");

    /** Eigenbases of gold K-FAC factors of the fixture batch with {@code batchTargets}. */
    static Map<String, FactorEigenbasis> bases(int[] batchTargets, KfacCollector.Labels labels, long seed) {
        Map<String, FactorEigenbasis> out = new LinkedHashMap<>();
        try (KfacCollector collector = new KfacCollector(backend, model, LayerSelection.parse("h.*.mlp.*"), labels,
                seed, CovariancePrecision.F64_EXACT);
             Workspace act = model.workspace(windows, time)) {
            collector.collect(act, ids, batchTargets);
            collector.factors().forEach((name, f) -> out.put(name, FactorEigenbasis.of(backend, f)));
        }
        return out;
    }

    /** (U_Gᵀ M U_A)_ij for M (p, q) row-major, by naive loops. */
    static double[] rotate(double[] m, double[] uG, double[] uA, int p, int q) {
        double[] mu = new double[p * q];                    // M U_A
        for (int r = 0; r < p; r++) {
            for (int j = 0; j < q; j++) {
                double s = 0;
                for (int k = 0; k < q; k++) {
                    s += m[r * q + k] * uA[k * q + j];
                }
                mu[r * q + j] = s;
            }
        }
        double[] out = new double[p * q];
        for (int i = 0; i < p; i++) {
            for (int j = 0; j < q; j++) {
                double s = 0;
                for (int r = 0; r < p; r++) {
                    s += uG[r * p + i] * mu[r * q + j];
                }
                out[i * q + j] = s;
            }
        }
        return out;
    }

    @Test
    void sequenceEigenvaluesAreTheSquaredPerWindowWeightGradientsInTheEigenbasis() {
        Map<String, FactorEigenbasis> bases = bases(targets, KfacCollector.Labels.GOLD, 0);
        try (EkfacCollector ekfac = new EkfacCollector(backend, model, bases, KfacCollector.Labels.GOLD, 0,
                CorrectedEigenvalues.Granularity.SEQUENCE);
             Workspace act = model.workspace(windows, time);
             Workspace one = model.workspace(1, time);
             ParameterSet grads = model.allocateGradients()) {
            ekfac.collect(act, ids, targets);
            // reference: each window alone, the model's full backward of its summed loss, ∇W of every layer
            Map<String, double[]> expected = new LinkedHashMap<>();
            Map<String, Double> squaredNorms = new LinkedHashMap<>();
            for (int b = 0; b < windows; b++) {
                int[] windowIds = Arrays.copyOfRange(ids, b * time, (b + 1) * time);
                int[] windowTargets = Arrays.copyOfRange(targets, b * time, (b + 1) * time);
                for (Tensor g : grads.all().values()) {
                    backend.fill(g, 0.0);
                }
                model.forward(one, new Batch.Tokens(windowIds, windowTargets));
                model.backward(one, grads, 1.0);
                for (String layer : layers) {
                    FactorEigenbasis basis = bases.get(layer);
                    double[] gradW = grads.get(layer + ".weight").toDoubleArray();
                    int p = (int) basis.gradientEigenvectors().dim(0);
                    int q = (int) basis.activationEigenvectors().dim(0);
                    double[] c = rotate(gradW, basis.gradientEigenvectors().toDoubleArray(),
                            basis.activationEigenvectors().toDoubleArray(), p, q);
                    double[] sum = expected.computeIfAbsent(layer, k -> new double[p * q]);
                    for (int k = 0; k < c.length; k++) {
                        sum[k] += c[k] * c[k] / windows;
                    }
                    double norm = 0;
                    for (double v : gradW) {
                        norm += v * v;
                    }
                    squaredNorms.merge(layer, norm / windows, Double::sum);
                }
            }
            double worst = 0;
            for (String layer : layers) {
                CorrectedEigenvalues.Layer got = ekfac.eigenvalues().layer(layer);
                assertEquals(windows, got.samples());
                double[] lambda = got.mean();
                double error = relativeError(expected.get(layer), lambda);
                assertTrue(error <= 1e-10, layer + ": Λ vs rotated per-window gradients, relative error " + error);
                worst = Math.max(worst, error);
                // Σ_ij Λ_ij = E_n ‖∇_W ℓ_n‖_F² (the rotation is orthogonal)
                double total = Arrays.stream(lambda).sum();
                double trace = Math.abs(total - squaredNorms.get(layer)) / squaredNorms.get(layer);
                assertTrue(trace <= 1e-12, layer + ": ΣΛ " + total + " vs E‖∇W‖² " + squaredNorms.get(layer));
            }
            System.out.printf("EK-FAC per-window Λ vs the model's own per-window ∇W rotated: worst relative error "
                    + "%.2e%n", worst);
        } finally {
            bases.values().forEach(FactorEigenbasis::close);
        }
    }

    @Test
    void tokenEigenvaluesAreNaiveSumsOverCountedRows() {
        String layer = "h.1.mlp.c_fc";
        Map<String, FactorEigenbasis> bases = bases(targets, KfacCollector.Labels.GOLD, 0);
        List<double[]> inputs = new ArrayList<>();
        List<double[]> gradients = new ArrayList<>();
        LinearObserver capture = new LinearObserver() {
            public boolean observes(String name) {
                return name.equals(layer);
            }

            public void onInput(String name, Tensor x) {
                inputs.add(x.toDoubleArray());
            }

            public void onOutputGradient(String name, Tensor dy) {
                gradients.add(dy.toDoubleArray());
            }
        };
        model.addObserver(capture);
        try (EkfacCollector ekfac = new EkfacCollector(backend, model, Map.of(layer, bases.get(layer)),
                KfacCollector.Labels.GOLD, 0, CorrectedEigenvalues.Granularity.TOKEN);
             Workspace act = model.workspace(windows, time)) {
            ekfac.collect(act, ids, targets);
            FactorEigenbasis basis = bases.get(layer);
            int p = 128;
            int q = 32;
            double[] uG = basis.gradientEigenvectors().toDoubleArray();
            double[] uA = basis.activationEigenvectors().toDoubleArray();
            double[] expected = new double[p * q];
            int counted = 0;
            for (int t = 0; t < targets.length; t++) {
                if (targets[t] < 0) {
                    continue;
                }
                counted++;
                double[] outer = new double[p * q];       // g_t a_tᵀ
                for (int i = 0; i < p; i++) {
                    for (int j = 0; j < q; j++) {
                        outer[i * q + j] = gradients.get(0)[t * p + i] * inputs.get(0)[t * q + j];
                    }
                }
                double[] c = rotate(outer, uG, uA, p, q);
                for (int k = 0; k < c.length; k++) {
                    expected[k] += c[k] * c[k];
                }
            }
            CorrectedEigenvalues.Layer got = ekfac.eigenvalues().layer(layer);
            assertEquals(21, counted);
            assertEquals(counted, got.samples());
            double error = relativeError(expected, got.sum().toDoubleArray());
            assertTrue(error <= 1e-12, "token Λ vs naive rotated g aᵀ: " + error);
        } finally {
            model.removeObserver(capture);
            bases.values().forEach(FactorEigenbasis::close);
        }
    }

    @Test
    void oneCountedPositionWithSampledLabelsGivesTheKfacProducts() {
        // one counted row: G = g gᵀ and A = a aᵀ, so u_1 ∝ g, v_1 ∝ a and Λ_ij = (u_iᵀg)²(v_jᵀa)² = λ_i μ_j exactly —
        // but only if the second pass draws the very labels the factors were collected with
        int[] one = new int[targets.length];
        Arrays.fill(one, -1);
        one[7] = targets[7];
        String layer = "h.1.mlp.c_proj";
        Map<String, FactorEigenbasis> bases = bases(one, KfacCollector.Labels.SAMPLED, 9);
        try (EkfacCollector ekfac = new EkfacCollector(backend, model, Map.of(layer, bases.get(layer)),
                KfacCollector.Labels.SAMPLED, 9, CorrectedEigenvalues.Granularity.TOKEN);
             EkfacCollector otherSeed = new EkfacCollector(backend, model, Map.of(layer, bases.get(layer)),
                     KfacCollector.Labels.SAMPLED, 10, CorrectedEigenvalues.Granularity.TOKEN);
             Workspace act = model.workspace(windows, time)) {
            ekfac.collect(act, ids, one);
            otherSeed.collect(act, ids, one);
            double[] lambda = bases.get(layer).gradientEigenvalues();
            double[] mu = bases.get(layer).activationEigenvalues();
            double[] products = new double[lambda.length * mu.length];
            for (int i = 0; i < lambda.length; i++) {
                for (int j = 0; j < mu.length; j++) {
                    products[i * mu.length + j] = lambda[i] * mu[j];
                }
            }
            double error = relativeError(products, ekfac.eigenvalues().layer(layer).mean());
            assertTrue(error <= 1e-10, "Λ vs λ⊗μ for one position: " + error);
            assertTrue(relativeError(products, otherSeed.eigenvalues().layer(layer).mean()) > 1e-3,
                    "another seed draws another label, so another gradient");
        } finally {
            bases.values().forEach(FactorEigenbasis::close);
        }
    }
}
