package dev.curvature.kfac;

import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.transformer.gpt2.Gpt2Checkpoints;
import dev.curvature.transformer.gpt2.Gpt2Model;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Model-level edits: refusals leave every weight as it was; the ranks rule keeps an r_G × r_A block. */
class ModelEditorTest {
    static final CpuBackend backend = SharedCpuBackend.get();
    @TempDir
    static Path dir;
    static Path factors;

    @BeforeAll
    static void collect() throws Exception {
        factors = dir.resolve("factors.safetensors");
        FactorStoreTest.shard(factors, Fixtures.targets(), "fixture");
    }

    static Gpt2Model freshModel() throws Exception {
        return Gpt2Checkpoints.load(backend, Fixtures.gpt2Tiny(), DType.F64);
    }

    static double[] allWeights(Gpt2Model model) {
        return model.parameters().all().values().stream().flatMapToDouble(t -> java.util.Arrays.stream(t.toDoubleArray()))
                .toArray();
    }

    @Test
    void badRequestsAreRefusedBeforeAnyWeightChanges() throws Exception {
        Gpt2Model model = freshModel();
        double[] before = allWeights(model);
        try (FactorStore.Loaded loaded = FactorStore.read(backend, factors)) {
            var rule = ModelEditor.Rule.mass(CurvatureMassSelection.Mode.KEEP);
            var rho = assertThrows(IllegalArgumentException.class, () -> ModelEditor.edit(backend, model, loaded,
                    new java.util.LinkedHashMap<>(Map.of("h.0.mlp.c_fc", 0.5, "h.1.mlp.c_proj", 1.5)), rule));
            assertTrue(rho.getMessage().contains("h.1.mlp.c_proj") && rho.getMessage().contains("1.5"), rho.getMessage());
            var missing = assertThrows(IllegalArgumentException.class, () -> ModelEditor.edit(backend, model, loaded,
                    Map.of("h.0.attn.c_attn", 0.5), rule));
            assertTrue(missing.getMessage().contains("no factors for layer h.0.attn.c_attn"), missing.getMessage());
            assertArrayEquals(before, allWeights(model), "refused edits change nothing");

            // the same architecture with other weights: the factors belong to another model
            backend.scale(model.parameters().get("ln_f.bias"), model.parameters().get("ln_f.bias"), 2.0);
            var other = assertThrows(IllegalArgumentException.class, () -> ModelEditor.edit(backend, model, loaded,
                    Map.of("h.0.mlp.c_fc", 0.5), rule));
            assertTrue(other.getMessage().contains("another model"), other.getMessage());
        } finally {
            model.parameters().close();
        }
    }

    @Test
    void ranksRuleKeepsTheLeadingEigenvectorBlock() throws Exception {
        Gpt2Model model = freshModel();
        try (FactorStore.Loaded loaded = FactorStore.read(backend, factors)) {
            double[] before = model.parameters().get("h.1.mlp.c_fc.weight").toDoubleArray();
            List<ModelEditor.LayerResult> untouched = ModelEditor.edit(backend, model, loaded,
                    Map.of("h.1.mlp.c_fc", 0.0), ModelEditor.Rule.ranks(1.0, 1.0, false));
            assertEquals(0.0, untouched.get(0).edit().relativeChange());
            assertArrayEquals(before, model.parameters().get("h.1.mlp.c_fc.weight").toDoubleArray());

            List<ModelEditor.LayerResult> edited = ModelEditor.edit(backend, model, loaded,
                    Map.of("h.1.mlp.c_fc", 0.0), ModelEditor.Rule.ranks(0.5, 0.8, false));
            CurvatureEdit.LayerReport report = edited.get(0).edit();
            try (FactorEigenbasis basis = FactorEigenbasis.of(backend, loaded.factors().get("h.1.mlp.c_fc"))) {
                var ranks = PerFactorVarianceSelection.select(basis.gradientEigenvalues(), basis.activationEigenvalues(),
                        0.5, 0.8);
                assertEquals((long) ranks.gRank() * ranks.aRank(), report.pairsKept());
                assertEquals(ranks.gRank(), report.gEigenvectorsUsed());
                assertEquals(ranks.aRank(), report.aEigenvectorsUsed());
            }
            assertTrue(report.relativeChange() > 0);
        } finally {
            model.parameters().close();
        }
    }

    @Test
    void factorsWhoseShapesDisagreeWithTheWeightAreRefused() throws Exception {
        Gpt2Model model = freshModel();
        double[] before = allWeights(model);
        Path wrong = dir.resolve("wrong-shape.safetensors");
        try (var a = new dev.curvature.engine.CovarianceAccumulator(backend, 16, CovariancePrecision.F64_EXACT, "a");
             var g = new dev.curvature.engine.CovarianceAccumulator(backend, 128, CovariancePrecision.F64_EXACT, "g")) {
            // h.0.mlp.c_fc reads C = 32 inputs: an A of 16 cannot belong to it
            a.restore(dev.curvature.engine.Tensor.allocate(java.lang.foreign.Arena.ofAuto(), DType.F64, 16, 16), 5);
            g.restore(dev.curvature.engine.Tensor.allocate(java.lang.foreign.Arena.ofAuto(), DType.F64, 128, 128), 5);
            FactorStore.write(wrong, Map.of("h.0.mlp.c_fc", new KroneckerFactors("h.0.mlp.c_fc", a, g)),
                    new FactorStore.Description(FactorStore.VERSION, ModelFingerprint.of(model.parameters()), "GOLD", 0,
                            List.of("x"), 5, List.of(new FactorStore.Layer("h.0.mlp.c_fc", 16, 128, 5))));
        }
        try (FactorStore.Loaded loaded = FactorStore.read(backend, wrong)) {
            var e = assertThrows(IllegalArgumentException.class, () -> ModelEditor.edit(backend, model, loaded,
                    Map.of("h.0.mlp.c_fc", 0.5), ModelEditor.Rule.mass(CurvatureMassSelection.Mode.KEEP)));
            assertTrue(e.getMessage().contains("h.0.mlp.c_fc") && e.getMessage().contains("does not match"),
                    e.getMessage());
            assertArrayEquals(before, allWeights(model));
        } finally {
            model.parameters().close();
        }
    }

    @Test
    void aFailureInALaterLayerRestoresTheEarlierOnes() throws Exception {
        Gpt2Model model = freshModel();
        double[] before = allWeights(model);
        // a file cannot hold a layer summed over no position (the reader refuses it): made in memory instead
        try (FactorStore.Loaded loaded = FactorStore.read(backend, factors);
             FactorStore.Loaded copy = FactorStore.read(backend, factors)) {
            KroneckerFactors last = loaded.factors().get("h.1.mlp.c_proj");
            KroneckerFactors same = copy.factors().get("h.1.mlp.c_proj");
            last.activations().restore(same.activations().upperSum(), 0);   // no positions: cannot decompose
            last.gradients().restore(same.gradients().upperSum(), 0);
            var rho = new java.util.LinkedHashMap<String, Double>();
            rho.put("h.0.mlp.c_fc", 0.5);            // edited first...
            rho.put("h.1.mlp.c_proj", 0.5);          // ...then this one fails
            var e = assertThrows(IllegalArgumentException.class, () -> ModelEditor.edit(backend, model, loaded, rho,
                    ModelEditor.Rule.mass(CurvatureMassSelection.Mode.KEEP)));
            assertTrue(e.getMessage().contains("h.1.mlp.c_proj"), e.getMessage());
            assertArrayEquals(before, allWeights(model), "the first layer's edit was rolled back");
        } finally {
            model.parameters().close();
        }
    }
}
