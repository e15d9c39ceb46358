package dev.curvature.kfac;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.transformer.data.ImageDataset;
import dev.curvature.transformer.data.LabelNoise;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.train.ImageBatches;
import dev.curvature.transformer.vit.VitConfig;
import dev.curvature.transformer.vit.VitModel;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The experiment's three numbers on a model whose answer is known: all weights zero but the classifier bias, so
 * every image is predicted as class 2 — memorized, true-label and accuracy shares then follow by counting labels
 * (the reference, computed here by hand from the data). And image batches are a pure function of (seed, step).
 */
class LabelNoiseExperimentTest {
    static final CpuBackend backend = SharedCpuBackend.get();

    static ImageDataset images(int count) {
        byte[] pixels = new byte[count * 16];
        int[] labels = new int[count];
        for (int i = 0; i < count; i++) {
            labels[i] = i % 4;
            for (int p = 0; p < 16; p++) {
                pixels[i * 16 + p] = (byte) ((i * 31 + p * 7) % 256);
            }
        }
        return new ImageDataset(pixels, labels, 4, 4, 4);
    }

    @Test
    void scoresOfAModelThatAlwaysAnswersClassTwoFollowFromTheLabels() {
        ImageDataset train = images(200);
        ImageDataset test = images(40);
        LabelNoise noise = LabelNoise.symmetric(train.labels(), 4, 0.25, 3);
        VitConfig config = VitConfig.of(8, 1, 2, 16, 4, 2, 1, 4);
        try (ParameterSet weights = ParameterSet.allocate(backend, config, DType.F64)) {
            backend.fill(weights.get("classifier.bias").slice(0, 2, 3), 5.0);
            VitModel model = new VitModel(backend, weights);
            LabelNoiseExperiment.Scores s = LabelNoiseExperiment.scores(model, train, noise, test, 64);
            int memorized = 0;
            int trueLabel = 0;
            int cleanTwo = 0;
            int clean = 0;
            for (int i : noise.flipped()) {
                memorized += noise.noisyLabels()[i] == 2 ? 1 : 0;
                trueLabel += noise.trueLabels()[i] == 2 ? 1 : 0;
            }
            for (int i = 0; i < train.size(); i++) {
                if (!noise.isFlipped(i)) {
                    clean++;
                    cleanTwo += train.labels()[i] == 2 ? 1 : 0;
                }
            }
            assertEquals(50, noise.flipped().length);
            assertEquals((double) memorized / 50, s.memorized(), 1e-15);
            assertEquals((double) trueLabel / 50, s.trueLabel(), 1e-15);
            assertEquals(0.25, s.testAccuracy(), 1e-15);               // 10 of the 40 test images are class 2
            assertEquals((double) cleanTwo / clean, s.cleanTrainAccuracy(), 1e-15);
        }
    }

    @Test
    void imageBatchesArePureFunctionsOfTheStepAndCoverAnEpochOnce() {
        ImageDataset train = images(30);
        int[] labels = train.labels();
        ImageBatches a = new ImageBatches(train, labels, 5, 9);
        ImageBatches b = new ImageBatches(train, labels, 5, 9);
        Batch.Images first = (Batch.Images) a.batch(4, 3);
        a.batch(0, 3);
        assertArrayEquals(first.pixels(), ((Batch.Images) b.batch(4, 3)).pixels());
        boolean[] seen = new boolean[30];
        for (int step = 0; step < 10; step++) {                     // 10 steps of 3 = one epoch of 30
            Batch.Images batch = (Batch.Images) a.batch(step, 3);
            for (int k = 0; k < 3; k++) {
                int label = batch.labels()[k];
                assertEquals(labels[indexOf(train, batch, k)], label);
                seen[indexOf(train, batch, k)] = true;
            }
        }
        for (boolean s : seen) {
            assertEquals(true, s, "every image once per epoch");
        }
    }

    /** The dataset index whose scaled pixels equal sample k of the batch (all images here differ). */
    private static int indexOf(ImageDataset data, Batch.Images batch, int k) {
        for (int i = 0; i < data.size(); i++) {
            boolean same = true;
            for (int p = 0; p < 16 && same; p++) {
                same = (data.pixels()[i * 16 + p] & 0xFF) / 255.0 == batch.pixels()[k * 16 + p];
            }
            if (same) {
                return i;
            }
        }
        throw new AssertionError("sample " + k + " is no image of the dataset");
    }
}
