package dev.curvature.kfac.score;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.data.ImageDataset;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.Workspace;
import dev.curvature.transformer.train.ImageBatches;
import dev.curvature.transformer.train.ModelInitializer;
import dev.curvature.transformer.vit.VitModel;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Scoring a data set batch by batch, on the tiny random ViT of {@link InputCurvatureTest} and 7 random images. */
class SampleCurvatureScoresTest {
    static final CpuBackend backend = SharedCpuBackend.get();

    static ImageDataset images(int count, long seed) {
        Random random = new Random(seed);
        byte[] pixels = new byte[count * 16];
        random.nextBytes(pixels);
        int[] labels = new int[count];
        for (int i = 0; i < count; i++) {
            labels[i] = random.nextInt(3);
        }
        return new ImageDataset(pixels, labels, 4, 4, 3);
    }

    @Test
    void scoresDoNotDependOnTheBatchSizeAndMatchOneBatchScoredAlone() {
        // reference: image 5 scored alone in a batch of 1 (its draws are sample 5's); batches of 3 (ragged last
        // batch) and 7 must agree to roundoff (1e-12 relative: the model's rows do not interact)
        ImageDataset data = images(7, 3);
        var options = new InputCurvature.Options(4, 1e-3, 9);
        try (ParameterSet weights = InputCurvatureTest.randomWeights(backend, InputCurvatureTest.CONFIG, 7)) {
            VitModel model = (VitModel) InputCurvatureTest.CONFIG.model(backend, weights);
            var three = SampleCurvatureScores.images(model, data, data.labels(), options, 3, (d, t) -> { });
            var seven = SampleCurvatureScores.images(model, data, data.labels(), options, 7, (d, t) -> { });
            InputCurvature.Scores alone;
            try (Workspace ws = model.workspace(1)) {
                alone = InputCurvature.score(new PixelGradients(model, ws,
                        ImageBatches.consecutive(data, data.labels(), 5, 1)), 5, options);
            }
            assertEquals(alone.squared()[0], three.scores().squared()[5], 1e-12 * alone.squared()[0]);
            assertEquals(alone.norm()[0], three.scores().norm()[5], 1e-12 * alone.norm()[0]);
            assertEquals(alone.loss()[0], three.scores().loss()[5], 1e-12);
            for (int i = 0; i < 7; i++) {
                assertEquals(seven.scores().squared()[i], three.scores().squared()[i],
                        1e-12 * seven.scores().squared()[i]);
            }
            assertEquals(7, three.throughput().samples());
            System.out.printf("tiny ViT scoring: %.0f images/s (n = 4 draws), forward %.0f %%, backward %.0f %%%n",
                    three.throughput().samplesPerSecond(),
                    100 * three.throughput().forwardSeconds() / three.throughput().seconds(),
                    100 * three.throughput().backwardSeconds() / three.throughput().seconds());
        }
    }

    @Test
    void checkpointMeanIsElementWise() {
        var a = new SampleCurvatureScores.Scores(new double[]{1, 2}, new double[]{3, 4}, new double[]{5, 6},
                new double[]{7, 8});
        var b = new SampleCurvatureScores.Scores(new double[]{3, 6}, new double[]{1, 0}, new double[]{-5, 0},
                new double[]{1, 2});
        var m = SampleCurvatureScores.Scores.mean(List.of(a, b));
        assertArrayEquals(new double[]{2, 4}, m.squared(), 0);
        assertArrayEquals(new double[]{2, 2}, m.norm(), 0);
        assertArrayEquals(new double[]{0, 3}, m.trace(), 0);
        assertArrayEquals(new double[]{4, 5}, m.loss(), 0);
    }

    @Test
    void tokenWindowsOfMixedLengthsScoreAsEachWindowAlone() {
        // reference: every window alone, in a batch of 1 through EmbeddingGradients with its next tokens as targets
        // (the last position unscored), drawing as sample i; batched in chunks of equal length (6, 6 | 4 | 6 | 8)
        Gpt2Config config = Gpt2Config.of(1, 2, 8, 16, 8);
        Random random = new Random(11);
        List<int[]> windows = new ArrayList<>();
        for (int length : new int[]{6, 6, 4, 6, 8}) {
            windows.add(random.ints(length, 0, 16).toArray());
        }
        var options = new InputCurvature.Options(3, 1e-3, 2);
        try (ParameterSet weights = ParameterSet.allocate(backend, config, DType.F64)) {
            ModelInitializer.initialize(weights, 5);
            Model model = config.model(backend, weights);
            var batched = SampleCurvatureScores.windows(model, windows, options, 2, (d, t) -> { });
            assertEquals(5, batched.throughput().samples());
            for (int i = 0; i < windows.size(); i++) {
                int[] w = windows.get(i);
                int[] targets = new int[w.length];
                for (int t = 0; t < w.length; t++) {
                    targets[t] = t + 1 < w.length ? w[t + 1] : -1;
                }
                InputCurvature.Scores alone;
                try (Workspace ws = model.workspace(1, w.length)) {
                    alone = InputCurvature.score(new EmbeddingGradients(model, ws, new Batch.Tokens(w, targets)), i,
                            options);
                }
                assertEquals(alone.squared()[0], batched.scores().squared()[i], 1e-12 * alone.squared()[0], "window " + i);
                assertEquals(alone.loss()[0], batched.scores().loss()[i], 1e-12 * alone.loss()[0], "window " + i);
                assertTrue(alone.squared()[0] > 0);
            }
            for (int length : new int[]{1, 9}) {       // no next token to score; longer than the context of 8
                IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(
                        IllegalArgumentException.class, () -> SampleCurvatureScores.windows(model,
                                List.of(new int[4], new int[length]), options, 2, (d, t) -> { }));
                assertTrue(e.getMessage().contains("window 1 has " + length + " tokens"), e.getMessage());
            }
        }
    }
}
