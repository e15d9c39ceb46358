package dev.curvature.transformer.train;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.Generator;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.Workspace;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
    static final CpuBackend backend = SharedCpuBackend.get();

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
        // 1,856 bytes of KJV Genesis 1 as byte-level tokens: windows of 128 at stride 64 tile it exactly (28 windows)
        int[] text = Arrays.copyOf(bytesOf("/text/genesis-1.txt"), 1856);
        Gpt2Config config = Gpt2Config.of(2, 4, 64, 256, 128);
        TrainingOptions options = new TrainingOptions(7, 128, 64, 500, 6e-3, 6e-4, 30, 0.0, 0.9, 0.95, 1e-8, 1.0, 7);
        try (ParameterSet weights = ParameterSet.allocate(backend, config, DType.F32)) {
            ModelInitializer.initialize(weights, options.seed());
            Gpt2Model model = new Gpt2Model(backend, weights);
            TokenWindows windows = new TokenWindows(text, options.time(), options.stride(), options.seed());
            assertEquals(28, windows.count());
            List<Double> losses = new ArrayList<>();
            try (Trainer trainer = new Trainer(model, windows, options)) {
                trainer.train(report -> losses.add(report.loss()), null, 0);
            }
            // the mean over the last epoch-sized run of steps (4 steps cover the 28 windows)
            double finalLoss = losses.subList(losses.size() - 20, losses.size()).stream()
                    .mapToDouble(Double::doubleValue).average().orElseThrow();
            System.out.printf("memorization: loss %.3f -> %.4f (mean of the last 20 steps)%n", losses.get(0), finalLoss);
            assertTrue(finalLoss < 0.05, "final training loss " + finalLoss);

            // Recite with the KV-cached generator: the first 16 tokens continued to 128, then each next 64 tokens
            // from the previous 64 (the contexts the windows were trained at).
            int[] recited = Arrays.copyOf(text, 16);
            recited = Arrays.copyOf(recited, text.length);
            int known = 16;
            try (Generator generator = new Generator(model, 1)) {
                while (known < text.length) {
                    int start = Math.max(0, known - 64) / 64 * 64;
                    int[] prompt = Arrays.copyOfRange(recited, start, known);
                    int n = Math.min(start + config.nPositions(), text.length) - known;
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
        try (ParameterSet straight = ParameterSet.allocate(backend, config, DType.F32)) {
            ModelInitializer.initialize(straight, options.seed());
            double[] straightLosses;
            Path snapshots = dir.resolve("snapshots");
            try (Trainer trainer = new Trainer(new Gpt2Model(backend, straight), windows, options)
                    .trackSampleLosses().keepSnapshots(snapshots, Trainer.evenSnapshotSteps(options.steps(), 12))) {
                trainer.train(report -> { }, null, 0);
                straightLosses = trainer.sampleLosses().cumulative();
            }
            try (ParameterSet interrupted = ParameterSet.allocate(backend, config, DType.F32)) {
                ModelInitializer.initialize(interrupted, options.seed());
                Path checkpoint = dir.resolve("run");
                try (Trainer trainer = new Trainer(new Gpt2Model(backend, interrupted), windows, options)
                        .trackSampleLosses()) {
                    for (int i = 0; i < 5; i++) {
                        trainer.trainStep();
                    }
                    trainer.saveCheckpoint(checkpoint);
                }
                assertEquals(5, Trainer.readState(checkpoint).step());
                // the straight run's snapshot after step 5 is the interrupted run's model at step 5, bit for bit
                try (var list = java.nio.file.Files.list(snapshots)) {
                    assertEquals(11, list.count(), "steps 1 … 11 of 12; the final model is the checkpoint");
                }
                var snapshot = dev.curvature.transformer.checkpoint.ModelCheckpoints.load(backend,
                        Trainer.snapshotDirectory(snapshots, 5), DType.F32);
                try (ParameterSet at5 = snapshot.parameters()) {
                    for (String name : interrupted.names()) {
                        assertArrayEquals(interrupted.get(name).segment().toArray(java.lang.foreign.ValueLayout.JAVA_INT),
                                at5.get(name).segment().toArray(java.lang.foreign.ValueLayout.JAVA_INT), name);
                    }
                }
                try (Trainer resumed = Trainer.resume(backend, checkpoint, windows, DType.F32)) {
                    resumed.train(report -> { }, null, 0);
                    assertEquals(12, resumed.step());
                    assertArrayEquals(straightLosses, resumed.sampleLosses().cumulative(), "cumulative sample losses");
                    for (String name : straight.names()) {
                        Tensor a = straight.get(name);
                        Tensor b = resumed.model().parameters().get(name);
                        assertArrayEquals(a.segment().toArray(java.lang.foreign.ValueLayout.JAVA_INT),
                                b.segment().toArray(java.lang.foreign.ValueLayout.JAVA_INT), name + " bitwise");
                    }
                    resumed.model().parameters().close();
                }
            }
        }
    }

    @Test
    void reportedGradientNormIsTheGlobalNormOfTheStepsGradients() throws Exception {
        // reference: the same batch through a second copy of the model, gradients summed in double element by element
        int[] text = Arrays.copyOf(bytesOf("/text/genesis-1.txt"), 600);
        Gpt2Config config = Gpt2Config.of(1, 2, 16, 256, 32);
        TrainingOptions options = new TrainingOptions(3, 32, 16, 1, 1e-3, 1e-4, 0, 0.1, 0.9, 0.95, 1e-8, 0.5, 5);
        try (ParameterSet trained = ParameterSet.allocate(backend, config, DType.F64);
             ParameterSet reference = ParameterSet.allocate(backend, config, DType.F64)) {
            ModelInitializer.initialize(trained, options.seed());
            ModelInitializer.initialize(reference, options.seed());
            TokenWindows windows = new TokenWindows(text, options.time(), options.stride(), options.seed());
            double reported;
            try (Trainer trainer = new Trainer(new Gpt2Model(backend, trained), windows, options)) {
                reported = trainer.trainStep().gradientNorm();
            }
            Gpt2Model model = new Gpt2Model(backend, reference);
            int[] ids = new int[options.batch() * options.time()];
            int[] targets = new int[ids.length];
            windows.batch(0, options.batch(), ids, targets);
            double squared = 0;
            try (Workspace act = model.workspace(options.batch(), options.time());
                 ParameterSet grads = model.allocateGradients()) {
                model.forward(act, new Batch.Tokens(ids, targets));
                model.backward(act, grads);
                for (Tensor g : grads.all().values()) {
                    for (double v : g.toDoubleArray()) {
                        squared += v * v;
                    }
                }
            }
            assertEquals(Math.sqrt(squared), reported, 1e-12 * Math.sqrt(squared));
            assertTrue(reported > options.gradientClip(), "the clip (0.5) is active at this norm: " + reported);
        }
    }

    @Test
    void cumulativeSampleLossesSumEachWindowsOwnLossOverTheStepsThatTrainedOnIt(@TempDir Path dir) throws Exception {
        // reference: before every step, each window of the step's batch alone through the current weights (batch 1,
        // its mean loss over scored positions), added to that window's total; the window found by its tokens
        int[] text = Arrays.copyOf(bytesOf("/text/genesis-1.txt"), 400);
        Gpt2Config config = Gpt2Config.of(1, 2, 16, 256, 32);
        TrainingOptions options = new TrainingOptions(3, 32, 32, 14, 1e-2, 1e-3, 0, 0.0, 0.9, 0.95, 1e-8, 1.0, 5);
        TokenWindows windows = new TokenWindows(text, options.time(), options.stride(), options.seed());
        assertEquals(12, windows.count());          // 14 steps × 3 = 42 windows read: three and a half epochs
        double[] reference = new double[windows.count()];
        double[] seen = new double[windows.count()];
        try (ParameterSet weights = ParameterSet.allocate(backend, config, DType.F64)) {
            ModelInitializer.initialize(weights, options.seed());
            Gpt2Model model = new Gpt2Model(backend, weights);
            try (Trainer trainer = new Trainer(model, windows, options).trackSampleLosses();
                 Workspace single = model.workspace(1, options.time())) {
                for (long step = 0; step < options.steps(); step++) {
                    int[] ids = new int[options.batch() * options.time()];
                    int[] targets = new int[ids.length];
                    windows.batch(step, options.batch(), ids, targets);
                    for (int b = 0; b < options.batch(); b++) {
                        int[] window = Arrays.copyOfRange(ids, b * options.time(), (b + 1) * options.time());
                        int w = windowStartingWith(text, window, options.stride());
                        int[] next = Arrays.copyOfRange(targets, b * options.time(), (b + 1) * options.time());
                        reference[w] += model.forward(single, new Batch.Tokens(window, next));
                        seen[w]++;
                    }
                    trainer.trainStep();
                }
                SampleLosses csl = trainer.sampleLosses();
                assertArrayEquals(seen, csl.steps(), "steps per window");
                for (int w = 0; w < reference.length; w++) {
                    assertEquals(reference[w], csl.cumulative()[w], 1e-12 * Math.max(1, reference[w]), "window " + w);
                }
                assertTrue(Arrays.stream(seen).min().orElseThrow() >= 3, "every window trained on at least 3 times");

                // saved with the checkpoint and read back bit for bit
                trainer.saveCheckpoint(dir.resolve("run"));
                SampleLosses read = SampleLosses.read(dir.resolve("run").resolve(SampleLosses.FILE), windows.count());
                assertArrayEquals(csl.cumulative(), read.cumulative());
            }
        }
    }

    /** The window w whose tokens [w·stride, w·stride + T) equal {@code window}; fails if none does. */
    private static int windowStartingWith(int[] text, int[] window, int stride) {
        for (int w = 0; w * stride + window.length <= text.length; w++) {
            if (Arrays.equals(window, Arrays.copyOfRange(text, w * stride, w * stride + window.length))) {
                return w;
            }
        }
        throw new AssertionError("no window of the text holds the batch row");
    }
}
