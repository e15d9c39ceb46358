package dev.curvature.kfac.score;

import dev.curvature.transformer.data.ImageDataset;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.Workspace;
import dev.curvature.transformer.train.ImageBatches;
import dev.curvature.transformer.vit.VitModel;

import java.util.ArrayList;
import java.util.List;

/**
 * {@link InputCurvature} of every sample of a data set under one checkpoint, batch by batch (sample i draws its
 * vectors as sample i, so the scores do not depend on the batch size), and the mean over checkpoints — the paper's
 * memorization score mem(x) ≈ (1/T) Σ_t Curv_t(x). Samples are images of a ViT (x = pixels) or token windows of a
 * language model (x = input embeddings).
 */
public final class SampleCurvatureScores {
    private SampleCurvatureScores() {
    }

    /** Per-sample scores (N each), as {@link InputCurvature.Scores}. */
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
     * @param samples         samples scored
     * @param seconds         wall time of the whole pass
     * @param forwardSeconds  in forward passes ((n + 1) per batch)
     * @param backwardSeconds in backward passes to the inputs
     */
    public record Throughput(long samples, double seconds, double forwardSeconds, double backwardSeconds) {
        public double samplesPerSecond() {
            return samples / seconds;
        }
    }

    public record Result(Scores scores, Throughput throughput) {
    }

    /** Progress: samples scored so far of the total. */
    @FunctionalInterface
    public interface Progress {
        void update(long done, long total);
    }

    /** A run of consecutive samples scored together: samples from … from + size − 1, of {@code time} positions each. */
    private record Chunk(int from, int size, int time) {
    }

    /** The input gradients of one chunk's samples, in a workspace of the chunk's batch and time. */
    @FunctionalInterface
    private interface ChunkInputs {
        InputGradients of(Workspace ws, Chunk chunk);
    }

    /**
     * Scores images 0 … N − 1 of {@code images} with {@code labels} (N, the training labels: the loss is at the label
     * the model was trained on), {@code batch} images at a time.
     */
    public static Result images(VitModel model, ImageDataset images, int[] labels, InputCurvature.Options options,
                                int batch, Progress progress) {
        int n = images.size();
        if (labels.length != n) {
            throw new IllegalArgumentException(n + " images but " + labels.length + " labels");
        }
        requireBatch(batch);
        int time = model.config().contextLength();
        List<Chunk> chunks = new ArrayList<>();
        for (int from = 0; from < n; from += batch) {
            chunks.add(new Chunk(from, Math.min(batch, n - from), time));
        }
        return score(model, n, chunks, (ws, c) -> new PixelGradients(model, ws,
                ImageBatches.consecutive(images, labels, c.from(), c.size())), options, progress);
    }

    /**
     * Scores token windows 0 … N − 1 of a language model, each with its next tokens as targets (the last position has
     * none): ℓ = the window's summed next-token loss, x = its input embeddings. Consecutive windows of one length go
     * through the model together, up to {@code batch} at a time.
     */
    public static Result windows(Model model, List<int[]> windows, InputCurvature.Options options, int batch,
                                 Progress progress) {
        requireBatch(batch);
        List<Chunk> chunks = new ArrayList<>();
        for (int from = 0; from < windows.size(); ) {
            int time = windows.get(from).length;
            if (time < 2 || time > model.config().contextLength()) {
                throw new IllegalArgumentException("window " + from + " has " + time + " tokens; windows need 2 … "
                        + model.config().contextLength() + " (the model's context)");
            }
            int size = 1;
            while (size < batch && from + size < windows.size() && windows.get(from + size).length == time) {
                size++;
            }
            chunks.add(new Chunk(from, size, time));
            from += size;
        }
        return score(model, windows.size(), chunks, (ws, c) -> {
            int[] ids = new int[c.size() * c.time()];
            int[] targets = new int[ids.length];
            for (int b = 0; b < c.size(); b++) {
                int[] w = windows.get(c.from() + b);
                for (int t = 0; t < c.time(); t++) {
                    ids[b * c.time() + t] = w[t];
                    targets[b * c.time() + t] = t + 1 < c.time() ? w[t + 1] : -1;
                }
            }
            return new EmbeddingGradients(model, ws, new Batch.Tokens(ids, targets));
        }, options, progress);
    }

    private static void requireBatch(int batch) {
        if (batch < 1) {
            throw new IllegalArgumentException("--batch must be at least 1, got " + batch);
        }
    }

    /** The loop both kinds of sample share: each chunk's scores into the sample-indexed outputs, with timings. */
    private static Result score(Model model, int n, List<Chunk> chunks, ChunkInputs inputs,
                                InputCurvature.Options options, Progress progress) {
        double[][] out = new double[4][n];
        long forward = 0;
        long backward = 0;
        long start = System.nanoTime();
        Workspace ws = null;
        try {
            for (Chunk c : chunks) {
                if (ws == null || ws.batch() != c.size() || ws.time() != c.time()) {
                    if (ws != null) {
                        ws.close();
                    }
                    ws = model.workspace(c.size(), c.time());
                }
                InputGradients input = inputs.of(ws, c);
                InputCurvature.Scores s = InputCurvature.score(input, c.from(), options);
                double[][] parts = {s.squared(), s.norm(), s.trace(), s.loss()};
                for (int k = 0; k < 4; k++) {
                    System.arraycopy(parts[k], 0, out[k], c.from(), c.size());
                }
                forward += input.forwardNanos();
                backward += input.backwardNanos();
                progress.update(c.from() + c.size(), n);
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
