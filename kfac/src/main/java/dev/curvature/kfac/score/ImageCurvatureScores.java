package dev.curvature.kfac.score;

import dev.curvature.transformer.data.ImageDataset;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.Workspace;
import dev.curvature.transformer.train.ImageBatches;
import dev.curvature.transformer.vit.VitModel;

import java.util.List;

/**
 * {@link InputCurvature} of every image of a data set under one ViT checkpoint, batch by batch (image i draws its
 * vectors as sample i, so the scores do not depend on the batch size), and the mean over checkpoints — the paper's
 * memorization score mem(x) ≈ (1/T) Σ_t Curv_t(x).
 */
public final class ImageCurvatureScores {
    private ImageCurvatureScores() {
    }

    /** Per-image scores (N each), as {@link InputCurvature.Scores}. */
    public record Scores(double[] squared, double[] norm, double[] trace, double[] loss) {
        /** The element-wise mean over checkpoints (all of one data set). */
        public static Scores mean(List<Scores> checkpoints) {
            if (checkpoints.isEmpty()) {
                throw new IllegalArgumentException("no checkpoint scores to average");
            }
            int n = checkpoints.getFirst().loss().length;
            double[][] out = new double[4][n];
            for (Scores s : checkpoints) {
                double[][] parts = {s.squared, s.norm, s.trace, s.loss};
                for (int k = 0; k < 4; k++) {
                    if (parts[k].length != n) {
                        throw new IllegalArgumentException("checkpoint scores of " + parts[k].length + " and " + n
                                + " images");
                    }
                    for (int i = 0; i < n; i++) {
                        out[k][i] += parts[k][i] / checkpoints.size();
                    }
                }
            }
            return new Scores(out[0], out[1], out[2], out[3]);
        }
    }

    /**
     * Where the time went.
     *
     * @param images          images scored
     * @param seconds         wall time of the whole pass
     * @param forwardSeconds  in forward passes ((n + 1) per batch)
     * @param backwardSeconds in backward passes to the pixels
     */
    public record Throughput(long images, double seconds, double forwardSeconds, double backwardSeconds) {
        public double imagesPerSecond() {
            return images / seconds;
        }
    }

    public record Result(Scores scores, Throughput throughput) {
    }

    /** Progress: images scored so far of the total. */
    @FunctionalInterface
    public interface Progress {
        void update(long done, long total);
    }

    /**
     * Scores images 0 … N − 1 of {@code images} with {@code labels} (N, the training labels: the loss is at the label
     * the model was trained on), {@code batch} images at a time.
     */
    public static Result score(VitModel model, ImageDataset images, int[] labels, InputCurvature.Options options,
                               int batch, Progress progress) {
        int n = images.size();
        if (labels.length != n) {
            throw new IllegalArgumentException(n + " images but " + labels.length + " labels");
        }
        if (batch < 1) {
            throw new IllegalArgumentException("--batch must be at least 1, got " + batch);
        }
        double[][] out = new double[4][n];
        long forward = 0;
        long backward = 0;
        long start = System.nanoTime();
        Workspace ws = null;
        try {
            for (int from = 0; from < n; from += batch) {
                int size = Math.min(batch, n - from);
                if (ws == null || ws.batch() != size) {
                    if (ws != null) {
                        ws.close();
                    }
                    ws = model.workspace(size);
                }
                Batch.Images chunk = ImageBatches.consecutive(images, labels, from, size);
                PixelGradients input = new PixelGradients(model, ws, chunk);
                InputCurvature.Scores s = InputCurvature.score(input, from, options);
                double[][] parts = {s.squared(), s.norm(), s.trace(), s.loss()};
                for (int k = 0; k < 4; k++) {
                    System.arraycopy(parts[k], 0, out[k], from, size);
                }
                forward += input.forwardNanos();
                backward += input.backwardNanos();
                progress.update(from + size, n);
            }
        } finally {
            if (ws != null) {
                ws.close();
            }
        }
        return new Result(new Scores(out[0], out[1], out[2], out[3]),
                new Throughput(n, (System.nanoTime() - start) / 1e9, forward / 1e9, backward / 1e9));
    }
}
