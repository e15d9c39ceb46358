package dev.curvature.kfac;

import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.NumericAssertions;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.checkpoint.SafetensorsFile;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.Workspace;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.curvature.engine.NumericAssertions.relativeError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Gold-label K-FAC factors of the Llama-family fixtures (transformer/src/test/resources/llama-tiny and olmo2-tiny,
 * written by plain PyTorch) for every linear layer — q/k/v/o and gate/up/down — in F64 (exact accumulation, rel
 * ≤ 1e-10) and F32 (float32 batches with float64 sums, rel ≤ 1e-5). Layers that share their input (k, v with q; up
 * with gate) share one accumulated A, which must still equal PyTorch's A of each.
 */
class LlamaKfacFactorsTest {
    static final CpuBackend backend = SharedCpuBackend.get();

    static Path fixture(String name) {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null) {
            Path candidate = dir.resolve("transformer/src/test/resources/" + name);
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
            dir = dir.getParent();
        }
        throw new IllegalStateException("cannot find transformer/src/test/resources/" + name);
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"llama-tiny, F64, F64_EXACT, expected-f64.safetensors, 1e-10",
            "llama-tiny, F32, F32_WITH_F64_SUMS, expected-f32.safetensors, 1e-5",
            "olmo2-tiny, F64, F64_EXACT, expected-f64.safetensors, 1e-10",
            "olmo2-tiny, F32, F32_WITH_F64_SUMS, expected-f32.safetensors, 1e-5"})
    void goldFactorsOfEveryLinearLayerMatchPyTorch(String name, DType dtype, CovariancePrecision precision,
                                                   String expectedFile, double tolerance) throws Exception {
        Path dir = fixture(name);
        Model model = ModelCheckpoints.load(backend, dir, dtype);
        try (var weights = model.parameters();
             KfacCollector collector = new KfacCollector(backend, model, LayerSelection.parse("model.layers.*"),
                     KfacCollector.Labels.GOLD, 0, precision);
             Workspace act = model.workspace(2, 12);
             SafetensorsFile expected = SafetensorsFile.open(dir.resolve(expectedFile));
             Arena arena = Arena.ofConfined()) {
            int[] ids = NumericAssertions.intValues(expected.tensor("input_ids"));
            int[] targets = NumericAssertions.intValues(expected.tensor("targets"));
            collector.collect(act, ids, targets);
            assertEquals(14, collector.factors().size());
            String l0 = "model.layers.0.";
            assertSame(collector.factors().get(l0 + "mlp.gate_proj").activations(),
                    collector.factors().get(l0 + "mlp.up_proj").activations(), "gate and up share one A");
            assertSame(collector.factors().get(l0 + "self_attn.q_proj").activations(),
                    collector.factors().get(l0 + "self_attn.v_proj").activations(), "q, k and v share one A");
            double worst = 0;
            for (KroneckerFactors f : collector.factors().values()) {
                assertEquals((long) expected.tensor("kfac.count").toDoubleArray()[0], f.positions());
                double a = relativeError(expected.tensor("kfac." + f.layer() + ".A").toDoubleArray(),
                        symmetric(f.activations(), arena));
                double g = relativeError(expected.tensor("kfac." + f.layer() + ".G").toDoubleArray(),
                        symmetric(f.gradients(), arena));
                assertTrue(a <= tolerance && g <= tolerance, f.layer() + ": A " + a + ", G " + g);
                worst = Math.max(worst, Math.max(a, g));
            }
            System.out.printf("%s %s K-FAC gold factors vs PyTorch (14 layers): worst relative error %.2e%n", name,
                    dtype, worst);
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"llama-tiny", "olmo2-tiny"})
    void theDefaultSelectionIsEveryMlpProjection(String name) throws Exception {
        Model model = ModelCheckpoints.load(backend, fixture(name), DType.F64);
        try (var weights = model.parameters()) {
            assertEquals(List.of("model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj",
                            "model.layers.0.mlp.down_proj", "model.layers.1.mlp.gate_proj", "model.layers.1.mlp.up_proj",
                            "model.layers.1.mlp.down_proj"),
                    LayerSelection.parse(LayerSelection.DEFAULT).select(model.linearLayers()));
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"model.layers.0.mlp.up_proj", "'model.layers.0.self_attn.k_proj,model.layers.0.self_attn.v_proj'"})
    void aGroupWithoutItsOwnerSelectedStillFormsOneCorrectA(String layers) throws Exception {
        // reference: PyTorch's A of each layer (the fixture); v_proj must share k_proj's A when q_proj is not collected
        Path dir = fixture("llama-tiny");
        Model model = ModelCheckpoints.load(backend, dir, DType.F64);
        try (var weights = model.parameters();
             KfacCollector collector = new KfacCollector(backend, model, LayerSelection.parse(layers),
                     KfacCollector.Labels.GOLD, 0, CovariancePrecision.F64_EXACT);
             Workspace act = model.workspace(2, 12);
             SafetensorsFile expected = SafetensorsFile.open(dir.resolve("expected-f64.safetensors"));
             Arena arena = Arena.ofConfined()) {
            collector.collect(act, NumericAssertions.intValues(expected.tensor("input_ids")),
                    NumericAssertions.intValues(expected.tensor("targets")));
            var factors = List.copyOf(collector.factors().values());
            assertSame(factors.get(0).activations(), factors.get(factors.size() - 1).activations());
            for (KroneckerFactors f : factors) {
                double a = relativeError(expected.tensor("kfac." + f.layer() + ".A").toDoubleArray(),
                        symmetric(f.activations(), arena));
                assertTrue(a <= 1e-10, f.layer() + ": A " + a);
                assertEquals(21, f.positions());
            }
        }
    }

    @org.junit.jupiter.api.Test
    void anInterruptedSampledCollectionWithSharedFactorsResumesBitForBit(@org.junit.jupiter.api.io.TempDir Path dir)
            throws Exception {
        // reference: the uninterrupted run; OLMo-2 with GQA, every linear layer (q/k/v and gate/up share their A)
        var config = dev.curvature.transformer.llama.LlamaConfig.of("olmo2", 16, 24, 2, 4, 2, 40, 16, false);
        int[] tokens = new int[16 * 12];
        java.util.Random random = new java.util.Random(1);
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = random.nextInt(40);
        }
        var options = new FactorCollection.Options("model.layers.*", KfacCollector.Labels.SAMPLED, 7, 2, 8, 0,
                CovariancePrecision.F32_WITH_F64_SUMS, 16);
        try (var weights = dev.curvature.transformer.model.ParameterSet.allocate(backend, config, DType.F32)) {
            dev.curvature.transformer.train.ModelInitializer.initialize(weights, 3);
            Model model = config.model(backend, weights);
            Path full = dir.resolve("full.safetensors");
            FactorCollection.run(model, tokens, options, full, (a, b, c) -> { });
            Path cut = dir.resolve("cut.safetensors");
            assertThrows(IllegalStateException.class, () -> FactorCollection.run(model, tokens, options, cut,
                    (done, total, t) -> {
                        if (done >= 6) {
                            throw new IllegalStateException("interrupted");
                        }
                    }));
            assertTrue(Files.exists(FactorCollection.checkpointOf(cut)));
            FactorCollection.run(model, tokens, options, cut, (a, b, c) -> { });
            try (var x = FactorStore.read(backend, full); var y = FactorStore.read(backend, cut)) {
                assertEquals(14, x.factors().size());
                for (String name : x.factors().keySet()) {
                    assertArrayEquals(x.factors().get(name).activations().upperSum().toDoubleArray(),
                            y.factors().get(name).activations().upperSum().toDoubleArray(), name + " A");
                    assertArrayEquals(x.factors().get(name).gradients().upperSum().toDoubleArray(),
                            y.factors().get(name).gradients().upperSum().toDoubleArray(), name + " G");
                    assertEquals(x.factors().get(name).positions(), y.factors().get(name).positions());
                }
            }
        }
    }

    static double[] symmetric(dev.curvature.engine.CovarianceAccumulator acc, Arena arena) {
        Tensor out = Tensor.allocate(arena, DType.F64, acc.dim(), acc.dim());
        acc.readSymmetric(out, 1.0);
        return out.toDoubleArray();
    }
}
