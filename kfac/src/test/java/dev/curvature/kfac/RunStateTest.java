package dev.curvature.kfac;

import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.train.ModelInitializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Run state (issue 11): a checkpoint or a per-corpus shard is reused only by the very request that wrote it (model,
 * corpus, compute dtype, precision, labels, seed, window, batch, budget); anything else is refused naming what
 * differs. Descriptions record the compute dtype, and a merge keeps every shard's seed.
 */
class RunStateTest {
    static final Gpt2Config CONFIG = Gpt2Config.of(1, 2, 16, 256, 16);

    static int[] tokens(int seed, int n) {
        return new Random(seed).ints(n, 0, 256).toArray();
    }

    static FactorCollection.Options options(long seed, CovariancePrecision precision, long checkpointEvery) {
        return new FactorCollection.Options(LayerSelection.DEFAULT, KfacCollector.Labels.GOLD, seed, 2, 16, 0,
                precision, checkpointEvery);
    }

    static void killAfter(int windows, ThrowingRun run) {
        RuntimeException killed = assertThrows(RuntimeException.class, run::run);
        assertEquals("killed", killed.getMessage());
    }

    interface ThrowingRun {
        void run() throws Exception;
    }

    @Test
    void anF64RunRefusesTheCheckpointOfAnF32RunNamingTheDtype(@TempDir Path dir) throws Exception {
        try (CpuBackend backend = new CpuBackend(1);
             ParameterSet f32 = ParameterSet.allocate(backend, CONFIG, DType.F32);
             ParameterSet f64 = ParameterSet.allocate(backend, CONFIG, DType.F64)) {
            ModelInitializer.initialize(f32, 1);
            for (String name : f32.names()) {
                backend.copy(f64.get(name), f32.get(name));
            }
            int[] tokens = tokens(1, 16 * 8);
            Path out = dir.resolve("f.safetensors");
            var options = options(0, CovariancePrecision.F64_EXACT, 32);
            killAfter(4, () -> FactorCollection.run(new Gpt2Model(backend, f32), tokens, options, out, (d, t, n) -> {
                if (d >= 4) {
                    throw new RuntimeException("killed");
                }
            }));
            assertTrue(Files.exists(FactorCollection.checkpointOf(out)));
            IOException e = assertThrows(IOException.class, () -> FactorCollection.run(new Gpt2Model(backend, f64),
                    tokens, options, out, (d, t, n) -> { }));
            assertTrue(e.getMessage().contains("dtype") && e.getMessage().contains("F32")
                    && e.getMessage().contains("F64"), e.getMessage());
        }
    }

    @Test
    void theDescriptionRecordsTheComputeDtype(@TempDir Path dir) throws Exception {
        try (CpuBackend backend = new CpuBackend(1);
             ParameterSet f64 = ParameterSet.allocate(backend, CONFIG, DType.F64)) {
            ModelInitializer.initialize(f64, 1);
            var result = FactorCollection.run(new Gpt2Model(backend, f64), tokens(2, 16 * 4),
                    options(0, CovariancePrecision.F64_EXACT, 0), dir.resolve("f.safetensors"), (d, t, n) -> { });
            assertEquals("F64", result.description().collection().dtype());
            assertEquals("F64_EXACT", result.description().collection().precision());
        }
    }

    @Test
    void aFinishedShardOfOtherCorporaIsRefusedNotReused(@TempDir Path dir) throws Exception {
        try (CpuBackend backend = new CpuBackend(1);
             ParameterSet weights = ParameterSet.allocate(backend, CONFIG, DType.F32)) {
            ModelInitializer.initialize(weights, 3);
            Gpt2Model model = new Gpt2Model(backend, weights);
            var options = options(0, CovariancePrecision.F32_WITH_F64_SUMS, 0);
            Path out = dir.resolve("f.safetensors");
            int[] a = tokens(1, 16 * 4);
            int[] b = tokens(2, 16 * 4);
            int[] c = tokens(3, 16 * 4);
            // an earlier run over (a, b) killed while collecting b: the shard of a is finished
            killAfter(1, () -> FactorCollection.runParts(model, List.of(a, b), options, out, (d, t, n) -> {
                if (t == 4 && n == 32 && Files.exists(FactorCollection.shardOf(out, 0))) {
                    throw new RuntimeException("killed");
                }
            }));
            assertTrue(Files.exists(FactorCollection.shardOf(out, 0)));
            IOException e = assertThrows(IOException.class, () -> FactorCollection.runParts(model, List.of(c, b),
                    options, out, (d, t, n) -> { }));
            assertTrue(e.getMessage().contains(".part-0") && e.getMessage().contains("corpus"), e.getMessage());
            // the same request resumes from it and equals a clean run
            FactorCollection.runParts(model, List.of(a, b), options, out, (d, t, n) -> { });
            Path clean = dir.resolve("clean.safetensors");
            FactorCollection.runParts(model, List.of(a, b), options, clean, (d, t, n) -> { });
            assertTrue(Arrays.equals(Files.readAllBytes(clean), Files.readAllBytes(out)), "resumed = clean, bitwise");
        }
    }

    @Test
    void mergeKeepsEveryShardsSeedAndCorpus(@TempDir Path dir) throws Exception {
        try (CpuBackend backend = new CpuBackend(1);
             ParameterSet weights = ParameterSet.allocate(backend, CONFIG, DType.F32)) {
            ModelInitializer.initialize(weights, 3);
            Gpt2Model model = new Gpt2Model(backend, weights);
            Path one = dir.resolve("one.safetensors");
            Path two = dir.resolve("two.safetensors");
            FactorCollection.run(model, tokens(1, 64), options(3, CovariancePrecision.F64_EXACT, 0), one, (d, t, n) -> { });
            FactorCollection.run(model, tokens(2, 64), options(5, CovariancePrecision.F64_EXACT, 0), two, (d, t, n) -> { });
            try (FactorStore.Loaded merged = FactorStore.merge(backend, List.of(one, two));
                 FactorStore.Loaded a = FactorStore.read(backend, one);
                 FactorStore.Loaded b = FactorStore.read(backend, two)) {
                assertEquals(List.of(3L, 5L), merged.description().seeds());
                assertEquals(List.of(a.description().corpus().get(0), b.description().corpus().get(0)),
                        merged.description().corpus());
            }
        }
    }

    @Test
    void theTokenizerDigestIsRecordedAndMergeKeepsEveryShards(@TempDir Path dir) throws Exception {
        try (CpuBackend backend = new CpuBackend(1);
             ParameterSet weights = ParameterSet.allocate(backend, CONFIG, DType.F32)) {
            ModelInitializer.initialize(weights, 3);
            Gpt2Model model = new Gpt2Model(backend, weights);
            Path one = dir.resolve("one.safetensors");
            Path two = dir.resolve("two.safetensors");
            Path old = dir.resolve("old.safetensors");
            FactorCollection.Options o = options(3, CovariancePrecision.F64_EXACT, 0);
            FactorCollection.run(model, tokens(1, 64), new FactorCollection.Options(o.layers(), o.labels(), o.seed(),
                    o.batch(), o.time(), o.maxTokens(), o.precision(), 0, "sha256:t1"), one, (d, t, n) -> { });
            FactorCollection.run(model, tokens(2, 64), new FactorCollection.Options(o.layers(), o.labels(), o.seed(),
                    o.batch(), o.time(), o.maxTokens(), o.precision(), 0, "bytes"), two, (d, t, n) -> { });
            FactorCollection.run(model, tokens(3, 64), o, old, (d, t, n) -> { });   // no digest: unknown
            try (FactorStore.Loaded a = FactorStore.read(backend, one);
                 FactorStore.Loaded merged = FactorStore.merge(backend, List.of(one, two, old))) {
                assertEquals(List.of("sha256:t1"), a.description().tokenizers());
                assertEquals(Arrays.asList("sha256:t1", "bytes", null), merged.description().tokenizers());
                Path again = dir.resolve("merged.safetensors");
                FactorStore.write(again, merged.factors(), merged.description());
                try (FactorStore.Loaded back = FactorStore.read(backend, again)) {
                    assertEquals(merged.description().tokenizers(), back.description().tokenizers());
                }
            }
        }
    }

    @Test
    void aDescriptionWithoutTheNewFieldsReadsThemAsUnknown() throws Exception {
        String old = "{\"version\":1,\"model\":\"sha256:m\",\"labels\":\"GOLD\",\"seed\":4,\"corpus\":[\"a\",\"b\"],"
                + "\"tokens\":10,\"layers\":[],\"collection\":{\"time\":8,\"batch\":2,\"precision\":\"F64_EXACT\","
                + "\"maxTokens\":0}}";
        var d = new com.fasterxml.jackson.databind.ObjectMapper().readValue(old, FactorStore.Description.class);
        assertNull(d.collection().dtype());
        assertEquals(Arrays.asList(4L, null), d.seedsOrUnknown(), "a merged old file knows only its first seed");
        assertEquals(Arrays.asList(null, null), d.tokenizersOrUnknown());
    }
}
