package dev.curvature.kfac;

import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.CheckpointFormatException;
import dev.curvature.transformer.checkpoint.SafetensorsFile;
import dev.curvature.transformer.checkpoint.SafetensorsWriter;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.model.Workspace;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Factor files: bitwise round trip, merge = sum of shards, and refusals that name the file and layer. */
class FactorStoreTest {
    static final CpuBackend backend = SharedCpuBackend.get();
    static final Gpt2Model model = Fixtures.model();
    static final int[] ids = Fixtures.ids();
    static final int[] targets = Fixtures.targets();

    /** Collects the fixture batch with only the given targets counted, and writes a factor file. */
    static Path shard(Path file, int[] counted, String corpus) throws Exception {
        try (KfacCollector collector = new KfacCollector(backend, model, LayerSelection.parse(LayerSelection.DEFAULT),
                KfacCollector.Labels.GOLD, 0, CovariancePrecision.F64_EXACT);
             Workspace act = model.workspace(2, 12)) {
            collector.collect(act, ids, counted);
            List<FactorStore.Layer> layers = new ArrayList<>();
            for (KroneckerFactors f : collector.factors().values()) {
                layers.add(new FactorStore.Layer(f.layer(), f.activations().dim(), f.gradients().dim(), f.positions()));
            }
            FactorStore.write(file, collector.factors(), new FactorStore.Description(FactorStore.VERSION,
                    ModelFingerprint.of(model.parameters()), "GOLD", 0, List.of(corpus), counted.length, layers));
        }
        return file;
    }

    static double[] sum(KroneckerFactors f, boolean gradients, Arena arena) {
        var acc = gradients ? f.gradients() : f.activations();
        Tensor out = Tensor.allocate(arena, DType.F64, acc.dim(), acc.dim());
        acc.readSymmetric(out, 1.0);
        return out.toDoubleArray();
    }

    @Test
    void writeThenReadIsBitwiseAndKeepsTheDescription(@TempDir Path dir) throws Exception {
        Path file = shard(dir.resolve("all.safetensors"), targets, "fixture");
        try (FactorStore.Loaded loaded = FactorStore.read(backend, file);
             KfacCollector again = new KfacCollector(backend, model, LayerSelection.parse(LayerSelection.DEFAULT),
                     KfacCollector.Labels.GOLD, 0, CovariancePrecision.F64_EXACT);
             Workspace act = model.workspace(2, 12);
             Arena arena = Arena.ofConfined()) {
            again.collect(act, ids, targets);
            assertEquals("GOLD", loaded.description().labels());
            assertEquals(ModelFingerprint.of(model.parameters()), loaded.description().model());
            for (KroneckerFactors f : again.factors().values()) {
                KroneckerFactors read = loaded.factors().get(f.layer());
                assertEquals(21, read.positions());
                assertArrayEquals(sum(f, false, arena), sum(read, false, arena), f.layer() + ".A bitwise");
                assertArrayEquals(sum(f, true, arena), sum(read, true, arena), f.layer() + ".G bitwise");
            }
        }
    }

    @Test
    void mergedShardsEqualTheSumOfTheirFactors(@TempDir Path dir) throws Exception {
        // shard 1 counts the first sequence's positions, shard 2 the second's: one batch's positions, split
        int[] first = targets.clone();
        int[] second = targets.clone();
        for (int i = 0; i < targets.length; i++) {
            (i < 12 ? second : first)[i] = -1;
        }
        Path a = shard(dir.resolve("a.safetensors"), first, "part-1");
        Path b = shard(dir.resolve("b.safetensors"), second, "part-2");
        try (FactorStore.Loaded merged = FactorStore.merge(backend, List.of(a, b));
             FactorStore.Loaded la = FactorStore.read(backend, a);
             FactorStore.Loaded lb = FactorStore.read(backend, b);
             Arena arena = Arena.ofConfined()) {
            assertEquals(List.of("part-1", "part-2"), merged.description().corpus());
            for (String layer : merged.factors().keySet()) {
                KroneckerFactors m = merged.factors().get(layer);
                assertEquals(la.factors().get(layer).positions() + lb.factors().get(layer).positions(), m.positions());
                double[] expected = sum(la.factors().get(layer), true, arena);
                double[] other = sum(lb.factors().get(layer), true, arena);
                for (int i = 0; i < expected.length; i++) {
                    expected[i] += other[i];
                }
                assertArrayEquals(expected, sum(m, true, arena), layer + ".G = shard sum, bitwise");
            }
        }
    }

    @Test
    void incompatibleOrBrokenFilesAreRefusedByName(@TempDir Path dir) throws Exception {
        Path good = shard(dir.resolve("good.safetensors"), targets, "x");
        // another model: same layers, different fingerprint
        Path other = dir.resolve("other.safetensors");
        try (FactorStore.Loaded loaded = FactorStore.read(backend, good)) {
            FactorStore.Description d = loaded.description();
            FactorStore.write(other, loaded.factors(), new FactorStore.Description(d.version(), "sha256:other",
                    d.labels(), d.seed(), d.corpus(), d.tokens(), d.layers()));
        }
        var model = assertThrows(CheckpointFormatException.class, () -> FactorStore.merge(backend, List.of(good, other)));
        assertTrue(model.getMessage().contains("other.safetensors") && model.getMessage().contains("another model"),
                model.getMessage());
        // another layer set
        Path fewer = dir.resolve("fewer.safetensors");
        try (FactorStore.Loaded loaded = FactorStore.read(backend, good)) {
            FactorStore.Description d = loaded.description();
            Map<String, KroneckerFactors> one = Map.of("h.0.mlp.c_fc", loaded.factors().get("h.0.mlp.c_fc"));
            FactorStore.write(fewer, one, new FactorStore.Description(d.version(), d.model(), d.labels(), d.seed(),
                    d.corpus(), d.tokens(), d.layers().subList(0, 1)));
        }
        var layers = assertThrows(CheckpointFormatException.class, () -> FactorStore.merge(backend, List.of(good, fewer)));
        assertTrue(layers.getMessage().contains("fewer.safetensors") && layers.getMessage().contains("holds layers"),
                layers.getMessage());
        // NaN in a stored factor is named with its layer
        Path nan = dir.resolve("nan.safetensors");
        try (SafetensorsFile st = SafetensorsFile.open(good); Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> copy = new LinkedHashMap<>();
            for (String name : st.names()) {
                Tensor t = Tensor.allocate(arena, DType.F64, st.tensor(name).shape());
                backend.copy(t, st.tensor(name));
                copy.put(name, t);
            }
            copy.get("h.1.mlp.c_fc.G").set(Double.NaN, 3, 4);
            SafetensorsWriter.write(nan, copy, st.metadata());
        }
        var e = assertThrows(CheckpointFormatException.class, () -> FactorStore.read(backend, nan));
        assertTrue(e.getMessage().contains("nan.safetensors") && e.getMessage().contains("h.1.mlp.c_fc.G")
                && e.getMessage().contains("NaN"), e.getMessage());
    }
}
