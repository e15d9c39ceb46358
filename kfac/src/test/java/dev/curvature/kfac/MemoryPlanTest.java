package dev.curvature.kfac;

import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.llama.LlamaConfig;
import dev.curvature.transformer.model.LinearLayer;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.ModelConfig;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.Workspace;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The memory plan's byte counts. References: the workspaces the models really allocate (Workspace.bytes()), and
 * sizes computed by hand in the comments for small configs; exact equality throughout (they are integers).
 */
class MemoryPlanTest {
    private static final Gpt2Config GPT2 = Gpt2Config.of(2, 2, 32, 256, 64);          // n_inner 128
    private static final LlamaConfig OLMO2 = LlamaConfig.of("olmo2", 32, 48, 2, 4, 2, 256, 64, false);

    @Test
    void workspaceFormulaEqualsTheAllocatedWorkspaceForEveryFamily() {
        List<ModelConfig> configs = List.of(
                GPT2,
                new Gpt2Config(3, 4, 48, 300, 40, 80, 1e-5, "gelu_new"),
                LlamaConfig.of("llama", 32, 48, 2, 4, 2, 256, 64, false),
                LlamaConfig.of("llama", 32, 64, 3, 4, 1, 200, 32, true),
                OLMO2,
                LlamaConfig.of("olmo2", 48, 40, 1, 6, 3, 100, 24, true),
                // head_dim 16 with hidden 32 and 4 heads: query width 64 differs from the hidden size
                new LlamaConfig("olmo2", 32, 48, 2, 4, 2, 16, 128, 40, 1e-6, 500000.0, null, false, null),
                new LlamaConfig("llama", 32, 48, 2, 4, 4, 16, 128, 40, 1e-5, 10000.0,
                        new LlamaConfig.RopeScaling(8, 1, 4, 16), true, null));
        int[][] shapes = {{1, 1}, {2, 16}, {3, 7}, {1, 24}};
        try (CpuBackend backend = new CpuBackend(1)) {
            for (ModelConfig config : configs) {
                for (DType dtype : new DType[]{DType.F32, DType.F64}) {
                    try (ParameterSet weights = ParameterSet.allocate(backend, config, dtype)) {
                        Model model = config.model(backend, weights);
                        for (int[] bt : shapes) {
                            try (Workspace ws = model.workspace(bt[0], bt[1])) {
                                assertEquals(ws.bytes(), config.workspaceBytes(bt[0], bt[1], dtype),
                                        config.modelType() + " " + config + " " + dtype + " batch " + bt[0] + " × "
                                                + bt[1]);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void collectionPlanOfASmallGpt2CountsEveryBufferExactly() {
        // parameters by hand: wte 256·32 + wpe 64·32 = 10240; per block ln_1 64, c_attn 32·96 + 96, attn.c_proj
        // 32·32 + 32, ln_2 64, c_fc 32·128 + 128, mlp.c_proj 128·32 + 32 = 12704; ln_f 64 → 35712
        assertEquals(35712, GPT2.parameterCount());
        List<LinearLayer> mlp = LayerSelection.parse("mlp").select(GPT2.linearLayers()).stream()
                .map(name -> GPT2.linearLayers().stream().filter(l -> l.name().equals(name)).findFirst().orElseThrow())
                .toList();
        MemoryPlan plan = MemoryPlan.collection(GPT2, DType.F32, 4, 32, mlp, CovariancePrecision.F32_WITH_F64_SUMS,
                2);
        Map<String, Long> byGroup = groups(plan);
        assertEquals(35712L * 4, byGroup.get("parameters"));
        assertEquals(GPT2.workspaceBytes(4, 32, DType.F32), byGroup.get("activations"));
        // per block: A c_fc 32², G c_fc 128², A c_proj 128², G c_proj 32², float64: 8·(1024 + 16384)·2 = 278528
        assertEquals(2 * 278528L, byGroup.get("K-FAC factors"));
        assertEquals(128L * 128 * 4, byGroup.get("accumulator batch buffers"));     // one, the largest d², float32
        // 4·32 = 128 rows × max d 128, float32; then row indices and sampled labels, 2 × 128 int32
        assertEquals(128L * 128 * 4 + 2 * 128 * 4, byGroup.get("collector scratch"));
        assertEquals(2 * 278528L, byGroup.get("factor file write"));
        assertEquals(35712L * 4 + GPT2.workspaceBytes(4, 32, DType.F32) + 4 * 278528L + 65536 + 65536 + 1024,
                plan.total());
    }

    @Test
    void sharedInputsHaveOneActivationFactorAndExactSumsWidenTheBatchRows() {
        List<LinearLayer> block1 = OLMO2.linearLayers().stream().filter(l -> l.block() == 1 && l.role().isMlp())
                .toList();
        MemoryPlan plan = MemoryPlan.collection(OLMO2, DType.F32, 2, 16, block1, CovariancePrecision.F64_EXACT, 2);
        Map<String, Long> items = plan.items().stream().collect(Collectors.toMap(MemoryPlan.Item::name,
                MemoryPlan.Item::bytes, Long::sum));
        assertEquals(32L * 32 * 8, items.get("A of model.layers.1.mlp.gate_proj"));
        assertEquals(0L, items.get("A of model.layers.1.mlp.up_proj (shared with model.layers.1.mlp.gate_proj)"));
        assertEquals(48L * 48 * 8, items.get("G of model.layers.1.mlp.up_proj"));
        assertEquals(48L * 48 * 8, items.get("A of model.layers.1.mlp.down_proj"));
        // exact sums of float32 rows: each of the 5 sums widens the batch's 2·15 counted rows to float64
        assertEquals(30L * (32 + 48 + 48 + 48 + 32) * 8, groups(plan).get("accumulator batch buffers"));
        // the file writer copies A per layer, so the shared A twice: (32² + 48²)·2 + 48² + 32², float64
        assertEquals(((32L * 32 + 48 * 48) * 2 + 48 * 48 + 32 * 32) * 8, groups(plan).get("factor file write"));
        // float64 compute: the sums take the rows as they are
        MemoryPlan f64 = MemoryPlan.collection(OLMO2, DType.F64, 2, 16, block1, CovariancePrecision.F64_EXACT, 2);
        assertFalse(groups(f64).containsKey("accumulator batch buffers"));
        assertEquals(32L * 48 * 8 + 2 * 32 * 4, groups(f64).get("collector scratch"));
    }

    @Test
    void eigendecompositionScratchIsTheCopyBesideTheLargerOfDsyevdsWorkspaceAndTheQualityCheck() {
        // n = 3: dsyevd lwork 1 + 18 + 18 = 37 doubles, liwork 18 ints = 368 B > the check's 3·9·8 = 216 B
        assertEquals(9 * 8 + 3 * 8 + 37 * 8 + 18 * 4, MemoryPlan.eigendecompositionScratch(3).bytes());
        // n = 100: the check's 3n² float64 (240000 B) exceeds dsyevd's (1 + 600 + 20000)·8 + 503·4 = 166820 B
        assertEquals(100 * 100 * 8 + 100 * 8 + 240000, MemoryPlan.eigendecompositionScratch(100).bytes());
    }

    @Test
    void spectrumAndEditPlansCountTheirSourcesBasesAndWriteBuffers() {
        List<FactorStore.Layer> layers = List.of(new FactorStore.Layer("a", 4, 6, 10),
                new FactorStore.Layer("b", 8, 2, 10));
        // read: (16 + 36 + 64 + 4)·8 = 960; one basis at a time, the larger: b (2·64 + 8 + 2·4 + 2)·8 = 1168;
        // scratch for n = 8: 64·8 + 8·8 + max((1 + 48 + 128)·8 + 43·4, 3·64·8) = 576 + 1588
        MemoryPlan spectrum = MemoryPlan.spectrum(layers, false);
        assertEquals(960 + 1168 + 576 + 1588, spectrum.total());
        // keeping every basis: a (2·16 + 4 + 2·36 + 6)·8 = 912 and b, plus λ, μ copies (10 + 10)·8 = 160
        assertEquals(960 + 912 + 1168 + 160 + 576 + 1588, MemoryPlan.spectrum(layers, true).total());

        ModelConfig config = GPT2;
        long params = 35712L * 4;
        // edit of b from eigenbases: all bases read (a: (36 + 6 + 16 + 4)·8 = 496, b: (4 + 2 + 64 + 8)·8 = 624),
        // snapshot of b's weight 2·8 float32 = 64, C temporaries 3·2·8·8 = 384, checkpoint write in bfloat16
        MemoryPlan fromBases = MemoryPlan.edit(config, DType.F32, DType.BF16, layers, false, List.of("b"));
        assertEquals(params + 496 + 624 + 64 + 384 + 35712L * 2, fromBases.total());
        // from factors: the file read whole, b's basis built, and the scratch of its largest factor (n = 8)
        MemoryPlan fromFactors = MemoryPlan.edit(config, DType.F32, DType.BF16, layers, true, List.of("b"));
        assertEquals(params + 960 + 1168 + 576 + 1588 + 64 + 384 + 35712L * 2, fromFactors.total());
    }

    @Test
    void allSumsShareOneFloat32ProductBufferHoldingARowBlockPerThreadForTallBatches() {
        // hidden = intermediate = 256: every sum is 256²; 8 × 65 tokens → 8·64 = 512 counted rows, two blocks of
        // 256 rows on 2 threads, one block on 1 thread
        LlamaConfig square = LlamaConfig.of("llama", 256, 256, 1, 4, 4, 64, 128, true);
        List<LinearLayer> mlp = square.linearLayers().stream().filter(l -> l.role().isMlp()).toList();
        MemoryPlan two = MemoryPlan.collection(square, DType.F32, 8, 65, mlp, CovariancePrecision.F32_WITH_F64_SUMS,
                2);
        MemoryPlan one = MemoryPlan.collection(square, DType.F32, 8, 65, mlp, CovariancePrecision.F32_WITH_F64_SUMS,
                1);
        assertEquals(2L * 256 * 256 * 4, groups(two).get("accumulator batch buffers"));
        assertEquals(256L * 256 * 4, groups(one).get("accumulator batch buffers"));
        assertTrue(two.render(new MemoryPlan.Available(-1, "unknown")).contains("2 row blocks × 256² float32"));
        // intermediate 512: the 512² sums (1 block: 512 rows < 2·512) outweigh two 256² blocks
        LlamaConfig wide = LlamaConfig.of("llama", 256, 512, 1, 4, 4, 64, 128, true);
        List<LinearLayer> wideMlp = wide.linearLayers().stream().filter(l -> l.role().isMlp()).toList();
        assertEquals(512L * 512 * 4, groups(MemoryPlan.collection(wide, DType.F32, 8, 65, wideMlp,
                CovariancePrecision.F32_WITH_F64_SUMS, 2)).get("accumulator batch buffers"));
    }

    @Test
    void aPlanThatDoesNotFitIsRefusedNamingTheTotalTheLimitAndTheLargestItem() {
        LlamaConfig wide = LlamaConfig.of("llama", 16, 512, 2, 2, 2, 16, 8, true);
        List<LinearLayer> mlp = wide.linearLayers().stream().filter(l -> l.role().isMlp()).toList();
        MemoryPlan plan = MemoryPlan.collection(wide, DType.F32, 1, 8, mlp, CovariancePrecision.F32_WITH_F64_SUMS,
                2);
        var limit = new MemoryPlan.Available(1 << 20, "--memory-limit");
        var refused = assertThrows(MemoryPlan.InsufficientMemoryException.class,
                () -> plan.requireFits(limit, "reduce --batch"));
        String m = refused.getMessage();
        assertTrue(m.startsWith("refusing: the plan needs " + MemoryPlan.bytes(plan.total())
                + " but 1.0 MiB are available (--memory-limit)"), m);
        // G of gate_proj 512² float64 = 2 MiB: the first of the largest items
        assertTrue(m.contains("the largest item is G of model.layers.0.mlp.gate_proj (512² float64, 2.0 MiB)"), m);
        assertTrue(m.contains("reduce --batch, or use --memory-limit"), m);
        plan.requireFits(new MemoryPlan.Available(plan.total(), "--memory-limit"), "");   // exactly enough
        plan.requireFits(new MemoryPlan.Available(-1, "unknown"), "");                     // unknown: not refused
        String rendered = plan.render(limit);
        assertTrue(rendered.contains("of 1.0 MiB available (--memory-limit)"), rendered);
        assertTrue(rendered.contains("K-FAC factors"), rendered);
    }

    @Test
    void availableMemoryComesFromTheOptionTheEnvironmentOrMemAvailable(@TempDir Path dir) throws Exception {
        Path meminfo = dir.resolve("meminfo");
        Files.writeString(meminfo, "MemTotal:       16384000 kB\nMemFree:         1000 kB\nMemAvailable:    8000000 kB\n");
        assertEquals(new MemoryPlan.Available(8000000L * 1024, "MemAvailable"),
                MemoryPlan.available(null, null, meminfo));
        assertEquals(new MemoryPlan.Available(8L << 30, MemoryPlan.LIMIT_VARIABLE),
                MemoryPlan.available(null, "8g", meminfo));
        assertEquals(new MemoryPlan.Available(512L << 20, "--memory-limit"),
                MemoryPlan.available("512M", "8g", meminfo));
        assertFalse(MemoryPlan.available(null, null, dir.resolve("absent")).known());
        assertEquals(3L << 29, MemoryPlan.parseSize("1.5GiB"));
        assertEquals(64L << 30, MemoryPlan.parseSize("64 GB"));
        assertEquals(1000, MemoryPlan.parseSize("1000"));
        var bad = assertThrows(IllegalArgumentException.class, () -> MemoryPlan.parseSize("8 parsecs"));
        assertTrue(bad.getMessage().contains("8 parsecs"), bad.getMessage());
    }

    private static Map<String, Long> groups(MemoryPlan plan) {
        return plan.items().stream().collect(Collectors.groupingBy(MemoryPlan.Item::group,
                Collectors.summingLong(MemoryPlan.Item::bytes)));
    }
}
