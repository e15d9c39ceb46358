package dev.curvature.kfac;

import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.train.ModelInitializer;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A collection run interrupted after a checkpoint and resumed yields, bit for bit, the factors of the uninterrupted
 * run (the reference), for gold and for sampled labels.
 */
class FactorCollectionTest {

    @ParameterizedTest
    @EnumSource(KfacCollector.Labels.class)
    void resumedRunEqualsUninterruptedRunBitwise(KfacCollector.Labels labels, @TempDir Path dir) throws Exception {
        try (CpuBackend backend = new CpuBackend(2);
             ParameterSet weights = ParameterSet.allocate(backend, Gpt2Config.of(2, 2, 32, 256, 32), DType.F32)) {
            ModelInitializer.initialize(weights, 9);
            Gpt2Model model = new Gpt2Model(backend, weights);
            int[] tokens = new int[32 * 23 + 5];
            Random random = new Random(4);
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = random.nextInt(256);
            }
            var options = new FactorCollection.Options(LayerSelection.DEFAULT, labels, 17, 3, 32, 0,
                    CovariancePrecision.F32_WITH_F64_SUMS, 3 * 32 * 2);   // a checkpoint every 2 batches
            Path straight = dir.resolve("straight.safetensors");
            FactorCollection.run(model, tokens, options, straight, (d, t, n) -> { });

            Path interrupted = dir.resolve("interrupted.safetensors");
            // "kill" the run after its 5th batch: the checkpoint after batch 4 survives
            RuntimeException killed = assertThrows(RuntimeException.class, () -> FactorCollection.run(model, tokens,
                    options, interrupted, (done, total, n) -> {
                        if (done >= 15) {
                            throw new RuntimeException("killed");
                        }
                    }));
            assertEquals("killed", killed.getMessage());
            assertFalse(Files.exists(interrupted));
            assertTrue(Files.exists(FactorCollection.checkpointOf(interrupted)));
            FactorCollection.run(model, tokens, options, interrupted, (d, t, n) -> { });
            assertFalse(Files.exists(FactorCollection.checkpointOf(interrupted)), "checkpoint removed at the end");

            try (FactorStore.Loaded a = FactorStore.read(backend, straight);
                 FactorStore.Loaded b = FactorStore.read(backend, interrupted);
                 Arena arena = Arena.ofConfined()) {
                assertEquals(a.description(), b.description());
                assertEquals(List.of(sha256OfBigEndianInts(tokens, 23 * 32)), a.description().corpus());
                for (String layer : a.factors().keySet()) {
                    assertEquals(23 * 31, a.factors().get(layer).positions());
                    for (boolean g : new boolean[]{false, true}) {
                        assertArrayEquals(FactorStoreTest.sum(a.factors().get(layer), g, arena),
                                FactorStoreTest.sum(b.factors().get(layer), g, arena), layer + (g ? ".G" : ".A"));
                    }
                }
            }
        }
    }

    @org.junit.jupiter.api.Test
    void mergingPerPartShardsEqualsOneRunOverBothPartsBitwise(@TempDir Path dir) throws IOException {
        try (CpuBackend backend = new CpuBackend(2);
             ParameterSet weights = ParameterSet.allocate(backend, Gpt2Config.of(2, 2, 32, 256, 32), DType.F32)) {
            ModelInitializer.initialize(weights, 2);
            Gpt2Model model = new Gpt2Model(backend, weights);
            Random random = new Random(6);
            int[] part1 = random.ints(32 * 9, 0, 256).toArray();
            int[] part2 = random.ints(32 * 7 + 3, 0, 256).toArray();
            var options = new FactorCollection.Options(LayerSelection.DEFAULT, KfacCollector.Labels.SAMPLED, 5, 4, 32,
                    0, CovariancePrecision.F32_WITH_F64_SUMS, 0);
            // shards collected separately (as on two machines), then merged in part order
            Path shard1 = dir.resolve("machine-1.safetensors");
            Path shard2 = dir.resolve("machine-2.safetensors");
            FactorCollection.run(model, part1, options, shard1, (d, t, n) -> { });
            FactorCollection.run(model, part2, options, shard2, (d, t, n) -> { });
            // one run over both parts
            Path single = dir.resolve("single.safetensors");
            FactorCollection.runParts(model, java.util.List.of(part1, part2), options, single, (d, t, n) -> { });
            try (FactorStore.Loaded merged = FactorStore.merge(backend, java.util.List.of(shard1, shard2));
                 FactorStore.Loaded one = FactorStore.read(backend, single);
                 Arena arena = Arena.ofConfined()) {
                assertEquals(merged.description(), one.description());
                for (String layer : one.factors().keySet()) {
                    assertEquals(16 * 31, one.factors().get(layer).positions());
                    for (boolean g : new boolean[]{false, true}) {
                        assertArrayEquals(FactorStoreTest.sum(merged.factors().get(layer), g, arena),
                                FactorStoreTest.sum(one.factors().get(layer), g, arena), layer + (g ? ".G" : ".A"));
                    }
                }
            }
            assertFalse(Files.exists(dir.resolve("single.safetensors.part-0")), "per-part shards are removed");
        }
    }

    @org.junit.jupiter.api.Test
    void aCheckpointOfAnotherRunIsNotOverwritten(@TempDir Path dir) throws IOException {
        try (CpuBackend backend = new CpuBackend(1);
             ParameterSet weights = ParameterSet.allocate(backend, Gpt2Config.of(1, 2, 16, 256, 16), DType.F32)) {
            ModelInitializer.initialize(weights, 1);
            Gpt2Model model = new Gpt2Model(backend, weights);
            int[] tokens = new int[16 * 8];
            var gold = new FactorCollection.Options(LayerSelection.DEFAULT, KfacCollector.Labels.GOLD, 0, 2, 16, 0,
                    CovariancePrecision.F64_EXACT, 32);
            Path out = dir.resolve("f.safetensors");
            assertThrows(RuntimeException.class, () -> FactorCollection.run(model, tokens, gold, out, (d, t, n) -> {
                if (d >= 4) {
                    throw new RuntimeException("killed");
                }
            }));
            var sampled = new FactorCollection.Options(LayerSelection.DEFAULT, KfacCollector.Labels.SAMPLED, 0, 2, 16,
                    0, CovariancePrecision.F64_EXACT, 32);
            IOException e = assertThrows(IOException.class,
                    () -> FactorCollection.run(model, tokens, sampled, out, (d, t, n) -> { }));
            assertTrue(e.getMessage().contains("different collection run"), e.getMessage());
            // same labels, but windows cut differently (batch 4 × 8 tokens = 2 × 16: same tokens per batch)
            var recut = new FactorCollection.Options(LayerSelection.DEFAULT, KfacCollector.Labels.GOLD, 0, 4, 8, 0,
                    CovariancePrecision.F64_EXACT, 32);
            assertThrows(IOException.class, () -> FactorCollection.run(model, tokens, recut, out, (d, t, n) -> { }));
            // same recipe but a token budget smaller than what the checkpoint already holds
            var shorter = new FactorCollection.Options(LayerSelection.DEFAULT, KfacCollector.Labels.GOLD, 0, 2, 16, 32,
                    CovariancePrecision.F64_EXACT, 32);
            assertThrows(IOException.class, () -> FactorCollection.run(model, tokens, shorter, out, (d, t, n) -> { }));
        }
    }

    /** Reference corpus fingerprint: SHA-256 of tokens[0, used) written 4 bytes at a time, big-endian. */
    static String sha256OfBigEndianInts(int[] tokens, int used) throws Exception {
        java.security.MessageDigest digest = java.security.MessageDigest.getInstance("SHA-256");
        for (int i = 0; i < used; i++) {
            int t = tokens[i];
            digest.update(new byte[]{(byte) (t >>> 24), (byte) (t >>> 16), (byte) (t >>> 8), (byte) t});
        }
        return "sha256:" + java.util.HexFormat.of().formatHex(digest.digest());
    }
}
