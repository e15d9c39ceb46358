package dev.curvature.kfac;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.transformer.gpt2.Gpt2Model;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sweep on the PyTorch-made gpt2-tiny: each K-FAC variant edits exactly as {@link ModelEditor} does at that ρ,
 * the controls keep the K-FAC edit's fraction of every layer, and the model is restored bit for bit after each.
 */
class EditSweepTest {
    static final CpuBackend backend = SharedCpuBackend.get();
    static final List<String> LAYERS = List.of("h.0.mlp.c_fc", "h.1.mlp.c_proj");
    /** K-FAC and the two controls that need nothing but the eigenbases. */
    static final List<EditSweep.Method> CONTROLS = List.of(EditSweep.Method.KFAC, EditSweep.Method.SVD,
            EditSweep.Method.RANDOM);
    @TempDir
    static Path dir;
    static Path factors;

    @BeforeAll
    static void collect() throws Exception {
        factors = FactorStoreTest.shard(dir.resolve("factors.safetensors"), Fixtures.targets(), "fixture");
    }

    /** Eigenbases of {@link #LAYERS} (the caller closes them). */
    static Map<String, FactorEigenbasis> bases(FactorStore.Loaded loaded) {
        Map<String, FactorEigenbasis> bases = new LinkedHashMap<>();
        for (String layer : LAYERS) {
            bases.put(layer, FactorEigenbasis.of(backend, loaded.factors().get(layer)));
        }
        return bases;
    }

    /** What the evaluation sees: the weights of the swept layers, concatenated. */
    static double[] swept(Gpt2Model model) {
        return LAYERS.stream().flatMapToDouble(l -> java.util.Arrays.stream(
                model.parameters().get(l + ".weight").toDoubleArray())).toArray();
    }

    @Test
    void kfacVariantsMatchTheEditorAndControlsKeepTheSameFraction() throws Exception {
        Gpt2Model model = ModelEditorTest.freshModel();
        double[] before = ModelEditorTest.allWeights(model);
        Map<String, FactorEigenbasis> bases = new LinkedHashMap<>();
        try (FactorStore.Loaded loaded = FactorStore.read(backend, factors)) {
            bases.putAll(bases(loaded));
            var sets = List.of(new EditSweep.LayerSet("both", LAYERS),
                    new EditSweep.LayerSet("fc", List.of("h.0.mlp.c_fc")));
            var budgets = List.of(EditSweep.Budget.mass(0.9), EditSweep.Budget.mass(0.99));
            List<Integer> progress = new java.util.ArrayList<>();
            var variants = new EditSweep<>(backend, model, bases, EditSweepTest::swept, 7)
                    .run(sets, budgets, CONTROLS, (done, total, v) -> {
                        assertEquals(12, total);
                        progress.add(done);
                    });
            assertEquals(12, variants.size());
            assertEquals(List.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), progress);
            assertArrayEquals(before, ModelEditorTest.allWeights(model), "restored bit for bit after the sweep");

            for (int k = 0; k < variants.size(); k += 3) {
                var kfac = variants.get(k);
                var svd = variants.get(k + 1);
                var random = variants.get(k + 2);
                assertEquals(EditSweep.Method.KFAC, kfac.method());
                assertEquals(EditSweep.Method.SVD, svd.method());
                assertEquals(EditSweep.Method.RANDOM, random.method());

                // reference: the model editor at the same ρ on a fresh copy
                Gpt2Model reference = ModelEditorTest.freshModel();
                Map<String, Double> rho = new LinkedHashMap<>();
                kfac.layers().forEach(l -> rho.put(l.layer(), kfac.budget().value()));
                ModelEditor.edit(backend, reference, loaded, rho, ModelEditor.Rule.mass(
                        CurvatureMassSelection.Mode.KEEP));
                double[] expected = swept(reference);
                double[] got = kfac.evaluation();
                if (kfac.layerSet().equals("fc")) {   // the other layer is untouched: compare the edited one only
                    int n = (int) model.parameters().get("h.0.mlp.c_fc.weight").size();
                    expected = java.util.Arrays.copyOf(expected, n);
                    got = java.util.Arrays.copyOf(got, n);
                }
                assertArrayEquals(expected, got, 0.0, kfac.layerSet() + " " + kfac.budget());

                for (int l = 0; l < kfac.layers().size(); l++) {
                    var kl = kfac.layers().get(l);
                    var sl = svd.layers().get(l);
                    var rl = random.layers().get(l);
                    assertEquals(kl.kept(), rl.kept(), "random keeps as many components as K-FAC: " + kl.layer());
                    assertEquals(kl.total(), rl.total());
                    long full = sl.total();
                    assertEquals(Math.max(1, Math.round(kl.keptFraction() * full)), sl.kept(), kl.layer());
                    assertTrue(sl.energyKept() > 0 && sl.energyKept() <= 1, "SVD energy " + sl.energyKept());
                    assertEquals(null, sl.curvatureMass());
                    assertEquals(null, kl.energyKept());
                    assertTrue(rl.curvatureMass() <= kl.curvatureMass(),
                            "random components hold no more curvature mass than the top ones");
                }
                assertEquals(kfac.keptFraction(), random.keptFraction(), 0.0);
            }
        } finally {
            bases.values().forEach(FactorEigenbasis::close);
        }
    }

    @Test
    void aKeptFractionBudgetKeepsExactlyThatManyOfTheTopCurvatureComponents() throws Exception {
        // reference: ⌊f·pq⌋ by hand, and every kept product ≥ every product left out (naive scan of all pairs)
        Gpt2Model model = ModelEditorTest.freshModel();
        try (FactorStore.Loaded loaded = FactorStore.read(backend, factors);
             FactorEigenbasis basis = FactorEigenbasis.of(backend, loaded.factors().get("h.0.mlp.c_fc"))) {
            double[] lambda = basis.gradientEigenvalues();
            double[] mu = basis.activationEigenvalues();
            long pairs = (long) lambda.length * mu.length;
            var variants = new EditSweep<>(backend, model, Map.of("h.0.mlp.c_fc", basis), m -> 0, 1).run(
                    List.of(new EditSweep.LayerSet("fc", List.of("h.0.mlp.c_fc"))),
                    List.of(EditSweep.Budget.count(0.3)), List.of(EditSweep.Method.KFAC), (d, t, v) -> { });
            assertEquals((long) Math.floor(0.3 * pairs), variants.get(0).layers().get(0).kept());
            ComponentMask mask = EditSweep.select(basis, EditSweep.Budget.count(0.3));
            double smallestKept = Double.POSITIVE_INFINITY;
            double largestLeft = 0;
            for (int i = 0; i < lambda.length; i++) {
                for (int j = 0; j < mu.length; j++) {
                    double product = lambda[i] * mu[j];
                    if (mask.contains(i, j)) {
                        smallestKept = Math.min(smallestKept, product);
                    } else {
                        largestLeft = Math.max(largestLeft, product);
                    }
                }
            }
            assertTrue(smallestKept >= largestLeft, smallestKept + " < " + largestLeft);
        }
    }

    @Test
    void aLayerWithoutAnEigenbasisIsRefusedBeforeAnyEdit() throws Exception {
        Gpt2Model model = ModelEditorTest.freshModel();
        double[] before = ModelEditorTest.allWeights(model);
        var sweep = new EditSweep<>(backend, model, Map.of(), m -> 0, 1);
        var e = assertThrows(IllegalArgumentException.class, () -> sweep.run(
                List.of(new EditSweep.LayerSet("last", List.of("h.1.mlp.c_fc"))), List.of(EditSweep.Budget.mass(0.9)),
                List.of(EditSweep.Method.KFAC), (d, t, v) -> { }));
        assertTrue(e.getMessage().contains("h.1.mlp.c_fc") && e.getMessage().contains("'last'"), e.getMessage());
        assertArrayEquals(before, ModelEditorTest.allWeights(model));
    }

    @Test
    void budgetsAndLayerSetsAreValidated() {
        assertThrows(IllegalArgumentException.class, () -> EditSweep.Budget.mass(1.5));
        assertThrows(IllegalArgumentException.class, () -> EditSweep.Budget.count(-0.1));
        assertThrows(IllegalArgumentException.class, () -> new EditSweep.LayerSet("empty", List.of()));
        var twice = assertThrows(IllegalArgumentException.class,
                () -> new EditSweep.LayerSet("twice", List.of("h.0.mlp.c_fc", "h.0.mlp.c_fc")));
        assertTrue(twice.getMessage().contains("twice"), twice.getMessage());
    }

    @Test
    void aFailingEvaluationStillRestoresTheModelAndRhoOneLeavesItUntouched() throws Exception {
        // reference: the weights before the sweep, bit for bit
        Gpt2Model model = ModelEditorTest.freshModel();
        double[] before = ModelEditorTest.allWeights(model);
        Map<String, FactorEigenbasis> bases = new LinkedHashMap<>();
        try (FactorStore.Loaded loaded = FactorStore.read(backend, factors)) {
            bases.putAll(bases(loaded));
            int[] calls = {0};
            var failing = new EditSweep<>(backend, model, bases, m -> {
                if (++calls[0] == 2) {
                    throw new IllegalStateException("evaluation failed");
                }
                return 0;
            }, 1);
            assertThrows(IllegalStateException.class, () -> failing.run(List.of(new EditSweep.LayerSet("both", LAYERS)),
                    List.of(EditSweep.Budget.mass(0.5)), CONTROLS, (d, t, v) -> { }));
            assertEquals(2, calls[0]);
            assertArrayEquals(before, ModelEditorTest.allWeights(model), "restored after the failure");

            var untouched = new EditSweep<>(backend, model, bases, EditSweepTest::swept, 1).run(
                    List.of(new EditSweep.LayerSet("both", LAYERS)), List.of(EditSweep.Budget.mass(1.0)),
                    CONTROLS, (d, t, v) -> { });
            double[] original = swept(model);
            for (var v : untouched) {
                assertArrayEquals(original, v.evaluation(), 0.0, v.method() + " at ρ = 1 changes nothing");
                assertEquals(1.0, v.keptFraction());
            }
        } finally {
            bases.values().forEach(FactorEigenbasis::close);
        }
    }

    @Test
    void randomControlSeedsAreUnrelatedAcrossSeedsAndIndependentOfBudgetOrder() {
        // reference: the expected overlap of two independent uniform k-subsets of N pairs, k²/N
        Gpt2Model model = Fixtures.model();
        var one = new EditSweep<>(backend, model, Map.of(), m -> 0, 1);
        var two = new EditSweep<>(backend, model, Map.of(), m -> 0, 2);
        int rows = 64;
        int columns = 32;
        int count = 512;
        var a = ScatteredComponents.random(rows, columns, count, one.randomSeed("h.0.mlp.c_fc",
                EditSweep.Budget.mass(0.9)));
        var b = ScatteredComponents.random(rows, columns, count, two.randomSeed("h.0.mlp.c_fc",
                EditSweep.Budget.mass(0.9)));
        int overlap = 0;
        int shiftedOverlap = 0;   // the failure mode of a seed that only offsets the stream: b = a shifted by one
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < columns; j++) {
                int at = i * columns + j;
                overlap += a.contains(i, j) && b.contains(i, j) ? 1 : 0;
                int next = at + 1;
                shiftedOverlap += next < rows * columns && a.contains(i, j)
                        && b.contains(next / columns, next % columns) ? 1 : 0;
            }
        }
        double expected = (double) count * count / (rows * columns);   // 128, sd ≈ 9.8
        assertTrue(Math.abs(overlap - expected) < 50, "overlap " + overlap + ", independent sets share ≈ " + expected);
        assertTrue(Math.abs(shiftedOverlap - expected) < 50, "shifted overlap " + shiftedOverlap);
        assertEquals(one.randomSeed("h.0.mlp.c_fc", EditSweep.Budget.mass(0.9)),
                new EditSweep<>(backend, model, Map.of(), m -> 0, 1).randomSeed("h.0.mlp.c_fc",
                        EditSweep.Budget.mass(0.9)), "a function of (seed, layer, budget) only");
        assertTrue(one.randomSeed("h.0.mlp.c_fc", EditSweep.Budget.mass(0.9))
                != one.randomSeed("h.0.mlp.c_fc", EditSweep.Budget.count(0.9)));
    }
}
