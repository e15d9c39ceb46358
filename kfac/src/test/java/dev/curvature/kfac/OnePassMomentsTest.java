package dev.curvature.kfac;

import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.LinearObserver;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.model.Workspace;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static dev.curvature.engine.NumericAssertions.relativeError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * EK-FAC's one-pass moments on the float64 GPT-2 fixture. References: naive sums over the captured counted rows; the
 * exact token-level second pass, whose row and column marginals the estimate must reproduce exactly; the closed form
 * of one counted position (Λ̂ = Λ = λ ⊗ μ); and a collection run's file read back bitwise.
 */
class OnePassMomentsTest {
    static final CpuBackend backend = SharedCpuBackend.get();
    static final Gpt2Model model = Fixtures.model();
    static final int[] ids = Fixtures.ids();
    static final int[] targets = Fixtures.targets();
    static final String layer = "h.0.mlp.c_fc";   // p = 128, q = 32

    @Test
    void momentsAreNaiveNormWeightedSumsOverCountedRows() {
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
        try (KfacCollector collector = new KfacCollector(backend, model, LayerSelection.parse("h.0.mlp.*"),
                KfacCollector.Labels.GOLD, 0, CovariancePrecision.F64_EXACT).withOnePassMoments();
             Workspace act = model.workspace(2, 12)) {
            collector.collect(act, ids, targets);
            int p = 128;
            int q = 32;
            double[] x = inputs.get(0);
            double[] g = gradients.get(0);
            double[] mG = new double[p * p];
            double[] mA = new double[q * q];
            for (int t = 0; t < targets.length; t++) {
                if (targets[t] < 0) {
                    continue;
                }
                double a2 = 0;
                double g2 = 0;
                for (int j = 0; j < q; j++) {
                    a2 += x[t * q + j] * x[t * q + j];
                }
                for (int i = 0; i < p; i++) {
                    g2 += g[t * p + i] * g[t * p + i];
                }
                for (int i = 0; i < p; i++) {
                    for (int k = 0; k < p; k++) {
                        mG[i * p + k] += a2 * g[t * p + i] * g[t * p + k];
                    }
                }
                for (int j = 0; j < q; j++) {
                    for (int k = 0; k < q; k++) {
                        mA[j * q + k] += g2 * x[t * q + j] * x[t * q + k];
                    }
                }
            }
            OnePassMoments.Layer got = collector.onePassMoments().layers().get(layer);
            assertTrue(relativeError(mG, got.gradientMoment().toDoubleArray()) <= 1e-13, "Σ‖a‖² g gᵀ");
            assertTrue(relativeError(mA, got.activationMoment().toDoubleArray()) <= 1e-13, "Σ‖g‖² a aᵀ");
        } finally {
            model.removeObserver(capture);
        }
    }

    @Test
    void theEstimateHasTheExactMarginalsOfTheTokenLevelSecondPass() {
        try (KfacCollector collector = new KfacCollector(backend, model, LayerSelection.parse(layer),
                KfacCollector.Labels.GOLD, 0, CovariancePrecision.F64_EXACT).withOnePassMoments();
             Workspace act = model.workspace(2, 12)) {
            collector.collect(act, ids, targets);
            KroneckerFactors f = collector.factors().get(layer);
            try (FactorEigenbasis basis = FactorEigenbasis.of(backend, f);
                 EkfacCollector exact = new EkfacCollector(backend, model, Map.of(layer, basis),
                         KfacCollector.Labels.GOLD, 0, CorrectedEigenvalues.Granularity.TOKEN)) {
                exact.collect(act, ids, targets);
                double[] lambda = exact.eigenvalues().layer(layer).mean();
                double[] estimate = collector.onePassMoments().approximate(layer, basis, f.positions());
                int p = 128;
                int q = 32;
                double[] rowsExact = new double[p];
                double[] rowsEstimate = new double[p];
                double[] columnsExact = new double[q];
                double[] columnsEstimate = new double[q];
                for (int i = 0; i < p; i++) {
                    for (int j = 0; j < q; j++) {
                        rowsExact[i] += lambda[i * q + j];
                        rowsEstimate[i] += estimate[i * q + j];
                        columnsExact[j] += lambda[i * q + j];
                        columnsEstimate[j] += estimate[i * q + j];
                    }
                }
                assertTrue(relativeError(rowsExact, rowsEstimate) <= 1e-11, "row marginals "
                        + relativeError(rowsExact, rowsEstimate));
                assertTrue(relativeError(columnsExact, columnsEstimate) <= 1e-11, "column marginals");
                EkfacAgreement onePass = EkfacAgreement.of(lambda, estimate, p, q, 0.25);
                EkfacAgreement kfac = EkfacAgreement.of(lambda, EkfacAgreement.kfacProducts(basis), p, q, 0.25);
                assertTrue(onePass.relativeError() > 1e-6, "21 positions: the estimate is not exact");
                System.out.printf("one-pass vs exact token Λ on the fixture (%s): relative error %.3f, top-25%% "
                        + "overlap %.3f; K-FAC λμ: %.3f, %.3f%n", layer, onePass.relativeError(), onePass.topOverlap(),
                        kfac.relativeError(), kfac.topOverlap());
            }
        }
    }

    @Test
    void oneCountedPositionMakesTheEstimateExact() {
        int[] one = new int[targets.length];
        Arrays.fill(one, -1);
        one[5] = targets[5];
        try (KfacCollector collector = new KfacCollector(backend, model, LayerSelection.parse(layer),
                KfacCollector.Labels.GOLD, 0, CovariancePrecision.F64_EXACT).withOnePassMoments();
             Workspace act = model.workspace(2, 12)) {
            collector.collect(act, ids, one);
            KroneckerFactors f = collector.factors().get(layer);
            try (FactorEigenbasis basis = FactorEigenbasis.of(backend, f)) {
                double[] estimate = collector.onePassMoments().approximate(layer, basis, f.positions());
                double error = relativeError(EkfacAgreement.kfacProducts(basis), estimate);
                assertTrue(error <= 1e-10, "Λ̂ vs λ⊗μ for one position: " + error);
            }
        }
    }

    @Test
    void aCollectionRunStoresTheMomentsBesideTheFactors(@TempDir Path dir) throws Exception {
        Path with = dir.resolve("with.safetensors");
        Path without = dir.resolve("without.safetensors");
        var options = new FactorCollection.Options(layer, KfacCollector.Labels.GOLD, 0, 2, 12, 0,
                CovariancePrecision.F64_EXACT, 0, true);
        FactorCollection.run(model, ids, options, with, (a, b, c) -> { });
        FactorCollection.run(model, ids, new FactorCollection.Options(layer, KfacCollector.Labels.GOLD, 0, 2, 12, 0,
                CovariancePrecision.F64_EXACT, 0), without, (a, b, c) -> { });
        try (FactorStore.Loaded loaded = FactorStore.read(backend, with);
             FactorStore.Loaded plain = FactorStore.read(backend, without);
             OnePassMoments stored = OnePassMoments.read(backend, with, loaded.description());
             KfacCollector reference = new KfacCollector(backend, model, LayerSelection.parse(layer),
                     KfacCollector.Labels.GOLD, 0, CovariancePrecision.F64_EXACT).withOnePassMoments();
             Workspace act = model.workspace(2, 12)) {
            assertNull(OnePassMoments.read(backend, without, plain.description()));
            int[] windowIds = new int[24];
            int[] windowTargets = new int[24];
            dev.curvature.transformer.train.TokenWindows.consecutive(ids, 0, 2, 12, windowIds, windowTargets);
            reference.collect(act, windowIds, windowTargets);
            OnePassMoments.Layer expected = reference.onePassMoments().layers().get(layer);
            OnePassMoments.Layer got = stored.layers().get(layer);
            assertArrayEquals(expected.gradientMoment().toDoubleArray(), got.gradientMoment().toDoubleArray(), 0.0);
            assertArrayEquals(expected.activationMoment().toDoubleArray(), got.activationMoment().toDoubleArray(), 0.0);
            assertEquals(22, loaded.factors().get(layer).positions());
        }
    }
}
