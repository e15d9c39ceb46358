package dev.curvature.transformer.train;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.gpt2.Gpt2Generator;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.gpt2.Gpt2Parameters;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Training end to end: a small model memorizes a text and recites it; a resumed run equals an uninterrupted one. */
class Gpt2TrainerTest {
    static CpuBackend backend;

    @BeforeAll
    static void open() {
        backend = new CpuBackend(2);
    }

    @AfterAll
    static void close() {
        backend.close();
    }

    static int[] bytesOf(String resource) throws Exception {
        byte[] bytes = Files.readAllBytes(Path.of(Gpt2TrainerTest.class.getResource(resource).toURI()));
        int[] tokens = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            tokens[i] = bytes[i] & 0xFF;
        }
        return tokens;
    }

    @Test
    void smallModelMemorizesTwoKilobytesAndRecitesThemFromSixteenTokens() throws Exception {
        int[] text = bytesOf("/text/genesis-1.txt");   // 1,857 bytes of KJV Genesis 1, byte-level tokens
        Gpt2Config config = Gpt2Config.of(2, 4, 64, 256, 128);
        TrainingOptions options = new TrainingOptions(16, 128, 1, 700, 3e-3, 3e-4, 30, 0.0, 0.9, 0.95, 1e-8, 1.0, 7);
        try (Gpt2Parameters weights = Gpt2Parameters.allocate(backend, config, DType.F32)) {
            Gpt2Initializer.initialize(weights, options.seed());
            Gpt2Model model = new Gpt2Model(backend, weights);
            TokenWindows windows = new TokenWindows(text, options.time(), options.stride(), options.seed());
            List<Double> losses = new ArrayList<>();
            try (Gpt2Trainer trainer = new Gpt2Trainer(model, windows, options)) {
                trainer.train(report -> losses.add(report.loss()), null, 0);
            }
            double finalLoss = losses.subList(losses.size() - 20, losses.size()).stream()
                    .mapToDouble(Double::doubleValue).average().orElseThrow();
            System.out.printf("memorization: loss %.3f → %.4f (mean of the last 20 steps)%n", losses.get(0), finalLoss);
            assertTrue(finalLoss < 0.05, "final training loss " + finalLoss);

            // recite: the first 16 tokens, then windows of the last 64 recited tokens continued by 64 (KV cache)
            int[] recited = Arrays.copyOf(text, text.length);
            int known = 16;
            try (Gpt2Generator generator = new Gpt2Generator(model, 1)) {
                while (known < text.length) {
                    int context = Math.min(known, 64);
                    int[] prompt = Arrays.copyOfRange(recited, known - context, known);
                    int n = Math.min(config.nPositions() - context, text.length - known);
                    int[] next = generator.greedy(new int[][]{prompt}, n)[0];
                    System.arraycopy(next, 0, recited, known, n);
                    known += n;
                }
            }
            String expected = new String(toBytes(text), StandardCharsets.ISO_8859_1);
            String got = new String(toBytes(recited), StandardCharsets.ISO_8859_1);
            assertEquals(expected, got, "greedy recitation from the first 16 bytes");
        }
    }

    static byte[] toBytes(int[] tokens) {
        byte[] b = new byte[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            b[i] = (byte) tokens[i];
        }
        return b;
    }

    @Test
    void resumingFromACheckpointReproducesTheUninterruptedRunBitwise(@TempDir Path dir) throws Exception {
        int[] text = bytesOf("/text/genesis-1.txt");
        Gpt2Config config = Gpt2Config.of(2, 2, 32, 256, 32);
        TrainingOptions options = new TrainingOptions(4, 32, 7, 12, 1e-3, 1e-4, 3, 0.1, 0.9, 0.95, 1e-8, 0.5, 3);
        TokenWindows windows = new TokenWindows(text, options.time(), options.stride(), options.seed());
        try (Gpt2Parameters straight = Gpt2Parameters.allocate(backend, config, DType.F32)) {
            Gpt2Initializer.initialize(straight, options.seed());
            try (Gpt2Trainer trainer = new Gpt2Trainer(new Gpt2Model(backend, straight), windows, options)) {
                trainer.train(report -> { }, null, 0);
            }
            try (Gpt2Parameters interrupted = Gpt2Parameters.allocate(backend, config, DType.F32)) {
                Gpt2Initializer.initialize(interrupted, options.seed());
                Path checkpoint = dir.resolve("run");
                try (Gpt2Trainer trainer = new Gpt2Trainer(new Gpt2Model(backend, interrupted), windows, options)) {
                    for (int i = 0; i < 5; i++) {
                        trainer.trainStep();
                    }
                    trainer.saveCheckpoint(checkpoint);
                }
                assertEquals(5, Gpt2Trainer.readState(checkpoint).step());
                try (Gpt2Trainer resumed = Gpt2Trainer.resume(backend, checkpoint, windows, DType.F32)) {
                    resumed.train(report -> { }, null, 0);
                    assertEquals(12, resumed.step());
                    for (String name : straight.names()) {
                        Tensor a = straight.get(name);
                        Tensor b = resumed.model().weights().get(name);
                        assertArrayEquals(a.segment().toArray(java.lang.foreign.ValueLayout.JAVA_INT),
                                b.segment().toArray(java.lang.foreign.ValueLayout.JAVA_INT), name + " bitwise");
                    }
                    resumed.model().weights().close();
                }
            }
        }
    }
}
