package dev.curvature.kfac;

import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.transformer.gpt2.Gpt2Model;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.curvature.engine.NumericAssertions.relativeError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The EK-FAC pass as a run (file, description, shards) and the EK-FAC edit, on the float64 GPT-2 fixture's 24
 * tokens cut into two windows of 12. References: the collector's own sums (bitwise), the whole run against two
 * one-window shards merged, and W' = Σ_S C_ij u_i v_jᵀ by naive loops with S from the naive sort of
 * {@link CorrectedMassSelectionTest}.
 */
class EkfacEditTest {
    static final CpuBackend backend = SharedCpuBackend.get();
    static final List<String> LAYERS = List.of("h.0.mlp.c_fc", "h.1.mlp.c_proj");
    static final int[] tokens = Fixtures.ids();
    @TempDir
    static Path dir;
    static Path factors;
    static Path corrected;

    @BeforeAll
    static void collect() throws Exception {
        Gpt2Model model = Fixtures.model();
        factors = dir.resolve("factors.safetensors");
        FactorCollection.run(model, tokens, new FactorCollection.Options(String.join(",", LAYERS),
                KfacCollector.Labels.SAMPLED, 3, 2, 12, 0, CovariancePrecision.F64_EXACT, 0), factors,
                (a, b, c) -> { });
        corrected = dir.resolve("ekfac.safetensors");
        try (FactorStore.Loaded loaded = FactorStore.read(backend, factors)) {
            Map<String, FactorEigenbasis> bases = bases(loaded);
            try {
                EkfacPass.run(model, tokens, bases, loaded.description(), options(0), corrected, (a, b, c) -> { });
            } finally {
                bases.values().forEach(FactorEigenbasis::close);
            }
        }
    }

    static EkfacPass.Options options(long maxTokens) {
        return new EkfacPass.Options(KfacCollector.Labels.SAMPLED, 3, 2, 12, maxTokens,
                CorrectedEigenvalues.Granularity.SEQUENCE);
    }

    static Map<String, FactorEigenbasis> bases(FactorStore.Loaded loaded) {
        Map<String, FactorEigenbasis> out = new LinkedHashMap<>();
        for (String layer : LAYERS) {
            out.put(layer, FactorEigenbasis.of(backend, loaded.factors().get(layer)));
        }
        return out;
    }

    @Test
    void theFileHoldsTheSumsTheirCountsAndTheEigenbasisTheyBelongTo() throws Exception {
        try (FactorStore.Loaded loaded = FactorStore.read(backend, factors);
             EkfacStore.Loaded read = EkfacStore.read(backend, corrected)) {
            Map<String, FactorEigenbasis> bases = bases(loaded);
            try (EkfacCollector reference = new EkfacCollector(backend, Fixtures.model(), bases,
                    KfacCollector.Labels.SAMPLED, 3, CorrectedEigenvalues.Granularity.SEQUENCE);
                 var act = Fixtures.model().workspace(2, 12)) {
                int[] ids = tokens.clone();
                int[] targets = new int[ids.length];
                dev.curvature.transformer.train.TokenWindows.consecutive(tokens, 0, 2, 12, ids, targets);
                reference.collect(act, ids, targets);
                EkfacStore.Description d = read.description();
                assertEquals("SEQUENCE", d.granularity());
                assertEquals("SAMPLED", d.labels());
                assertEquals(24, d.tokens());
                assertEquals(loaded.description(), d.factors(), "names the factors of its eigenbasis");
                for (String layer : LAYERS) {
                    assertArrayEquals(reference.eigenvalues().layer(layer).sum().toDoubleArray(),
                            read.eigenvalues().layer(layer).sum().toDoubleArray(), 0.0, layer);
                    assertEquals(2, read.eigenvalues().layer(layer).samples());
                    EkfacStore.Layer entry = d.layers().stream().filter(l -> l.name().equals(layer)).findFirst()
                            .orElseThrow();
                    assertEquals(EkfacStore.basisDigest(bases.get(layer)), entry.basis());
                }
            } finally {
                bases.values().forEach(FactorEigenbasis::close);
            }
        }
    }

    @Test
    void twoOneWindowShardsMergeToTheWholeRunBitForBit() throws Exception {
        Gpt2Model model = Fixtures.model();
        try (FactorStore.Loaded loaded = FactorStore.read(backend, factors)) {
            Map<String, FactorEigenbasis> bases = bases(loaded);
            try {
                Path first = dir.resolve("first.safetensors");
                Path second = dir.resolve("second.safetensors");
                // one window each, batch 1: the second shard's window is the run's second (its sampling stream is
                // (seed, 0), not (seed, 1), so gold labels keep the two runs comparable)
                var gold = new EkfacPass.Options(KfacCollector.Labels.GOLD, 3, 1, 12, 0,
                        CorrectedEigenvalues.Granularity.SEQUENCE);
                Path whole = dir.resolve("whole.safetensors");
                EkfacPass.run(model, tokens, bases, loaded.description(), gold, whole, (a, b, c) -> { });
                EkfacPass.run(model, Arrays.copyOfRange(tokens, 0, 12), bases, loaded.description(), gold, first,
                        (a, b, c) -> { });
                EkfacPass.run(model, Arrays.copyOfRange(tokens, 12, 24), bases, loaded.description(), gold, second,
                        (a, b, c) -> { });
                try (EkfacStore.Loaded all = EkfacStore.read(backend, whole);
                     EkfacStore.Loaded merged = EkfacStore.merge(backend, List.of(first, second))) {
                    for (String layer : LAYERS) {
                        assertArrayEquals(all.eigenvalues().layer(layer).sum().toDoubleArray(),
                                merged.eigenvalues().layer(layer).sum().toDoubleArray(), 0.0, layer);
                        assertEquals(2, merged.eigenvalues().layer(layer).samples());
                    }
                    assertEquals(24, merged.description().tokens());
                    assertEquals(2, merged.description().corpus().size());
                }
                var other = assertThrows(dev.curvature.transformer.checkpoint.CheckpointFormatException.class,
                        () -> EkfacStore.merge(backend, List.of(first, corrected)));
                assertTrue(other.getMessage().contains("labels"), other.getMessage());
            } finally {
                bases.values().forEach(FactorEigenbasis::close);
            }
        }
    }

    @Test
    void theEditKeepsTheLargestLambdaComponentsAsNaiveLoopsRebuildThem() throws Exception {
        Gpt2Model model = ModelEditorTest.freshModel();
        double rho = 0.7;
        String layer = "h.1.mlp.c_proj";
        try (FactorStore.Loaded loaded = FactorStore.read(backend, factors);
             EkfacStore.Loaded read = EkfacStore.read(backend, corrected);
             FactorEigenbasis basis = FactorEigenbasis.of(backend, loaded.factors().get(layer))) {
            double[] w = model.parameters().get(layer + ".weight").toDoubleArray();
            int p = 32;
            int q = 128;
            double[] uG = basis.gradientEigenvectors().toDoubleArray();
            double[] uA = basis.activationEigenvectors().toDoubleArray();
            double[] c = EkfacCollectorTest.rotate(w, uG, uA, p, q);
            boolean[] kept = CorrectedMassSelectionTest.naiveKeep(read.eigenvalues().layer(layer).mean(), rho);
            double[] expected = new double[p * q];     // Σ_S C_ij u_i v_jᵀ
            for (int i = 0; i < p; i++) {
                for (int j = 0; j < q; j++) {
                    if (!kept[i * q + j]) {
                        continue;
                    }
                    for (int r = 0; r < p; r++) {
                        for (int s = 0; s < q; s++) {
                            expected[r * q + s] += c[i * q + j] * uG[r * p + i] * uA[s * q + j];
                        }
                    }
                }
            }
            List<ModelEditor.LayerResult> results = ModelEditor.editCorrected(backend, model, loaded, read,
                    Map.of(layer, rho), CurvatureMassSelection.Mode.KEEP, r -> { });
            double error = relativeError(expected, model.parameters().get(layer + ".weight").toDoubleArray());
            assertTrue(error <= 1e-12, "EK-FAC edit vs naive rebuild: " + error);
            CurvatureEdit.LayerReport report = results.get(0).edit();
            long count = 0;
            for (boolean k : kept) {
                count += k ? 1 : 0;
            }
            assertEquals(count, report.pairsKept());
            assertTrue(report.massKept() >= rho && report.massKept() < 1, "Λ mass kept " + report.massKept());
            assertEquals("ekfac KEEP", results.get(0).mode());
        } finally {
            model.parameters().close();
        }
    }

    @Test
    void eigenvaluesOfAnotherEigenbasisAreRefusedAndChangeNothing() throws Exception {
        Gpt2Model model = ModelEditorTest.freshModel();
        double[] before = ModelEditorTest.allWeights(model);
        Path otherFactors = dir.resolve("other-factors.safetensors");
        FactorCollection.run(Fixtures.model(), tokens, new FactorCollection.Options(String.join(",", LAYERS),
                KfacCollector.Labels.GOLD, 3, 2, 12, 0, CovariancePrecision.F64_EXACT, 0), otherFactors,
                (a, b, c) -> { });
        try (FactorStore.Loaded other = FactorStore.read(backend, otherFactors);
             EkfacStore.Loaded read = EkfacStore.read(backend, corrected)) {
            Map<String, Double> rho = new LinkedHashMap<>();
            rho.put("h.0.mlp.c_fc", 0.5);
            rho.put("h.1.mlp.c_proj", 0.5);
            var e = assertThrows(IllegalArgumentException.class, () -> ModelEditor.editCorrected(backend, model, other,
                    read, rho, CurvatureMassSelection.Mode.KEEP, r -> { }));
            assertTrue(e.getMessage().contains("h.0.mlp.c_fc") && e.getMessage().contains("another eigenbasis"),
                    e.getMessage());
            var missing = assertThrows(IllegalArgumentException.class, () -> ModelEditor.editCorrected(backend, model,
                    other, read, Map.of("h.0.mlp.c_proj", 0.5), CurvatureMassSelection.Mode.KEEP, r -> { }));
            assertTrue(missing.getMessage().contains("no corrected eigenvalues for layer h.0.mlp.c_proj"),
                    missing.getMessage());
            assertArrayEquals(before, ModelEditorTest.allWeights(model), "refused edits change nothing");
        } finally {
            model.parameters().close();
        }
    }

    @Test
    void theSweepsEkfacVariantKeepsAsManyComponentsAsKfacThoseOfLargestLambda() throws Exception {
        Gpt2Model model = ModelEditorTest.freshModel();
        String layer = "h.0.mlp.c_fc";
        try (FactorStore.Loaded loaded = FactorStore.read(backend, factors);
             EkfacStore.Loaded read = EkfacStore.read(backend, corrected);
             FactorEigenbasis basis = FactorEigenbasis.of(backend, loaded.factors().get(layer))) {
            double[] lambda = read.eigenvalues().layer(layer).mean();
            double[] w = model.parameters().get(layer + ".weight").toDoubleArray();
            var variants = new EditSweep<>(backend, model, Map.of(layer, basis), Map.of(layer, lambda),
                    m -> m.parameters().get(layer + ".weight").toDoubleArray(), 1).run(
                    List.of(new EditSweep.LayerSet("fc", List.of(layer))), List.of(EditSweep.Budget.count(0.3)),
                    List.of(EditSweep.Method.KFAC, EditSweep.Method.EKFAC), (d, t, v) -> { });
            var kfac = variants.get(0);
            var ekfac = variants.get(1);
            assertEquals(EditSweep.Method.EKFAC, ekfac.method());
            assertEquals(kfac.layers().get(0).kept(), ekfac.layers().get(0).kept());
            int p = 128;
            int q = 32;
            long k = kfac.layers().get(0).kept();
            List<Integer> order = CorrectedMassSelectionTest.naiveOrder(lambda);
            double[] uG = basis.gradientEigenvectors().toDoubleArray();
            double[] uA = basis.activationEigenvectors().toDoubleArray();
            double[] c = EkfacCollectorTest.rotate(w, uG, uA, p, q);
            double[] expected = new double[p * q];
            for (int n = 0; n < k; n++) {
                int i = order.get(n) / q;
                int j = order.get(n) % q;
                for (int r = 0; r < p; r++) {
                    for (int s = 0; s < q; s++) {
                        expected[r * q + s] += c[i * q + j] * uG[r * p + i] * uA[s * q + j];
                    }
                }
            }
            double error = relativeError(expected, ekfac.evaluation());
            assertTrue(error <= 1e-12, "EK-FAC sweep variant vs naive rebuild: " + error);
            assertTrue(relativeError(kfac.evaluation(), ekfac.evaluation()) > 1e-6, "a different set than K-FAC's");
            assertArrayEquals(w, model.parameters().get(layer + ".weight").toDoubleArray(), 0.0, "restored");
        } finally {
            model.parameters().close();
        }
    }
}
