package dev.curvature.kfac.score;

import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.Workspace;
import dev.curvature.transformer.vit.VitModel;

/**
 * {@link InputGradients} of a vision transformer with respect to its pixels: x = {@link Batch.Images#pixels()}
 * (B·channels·S·S), ℓ_b = −log softmax(logits_b)[label_b], gradient {@link VitModel#pixelGradient} after a backward
 * of Σ_b ℓ_b (scale 1, no parameter gradients). Every image must be labelled.
 */
public final class PixelGradients implements InputGradients {
    private final VitModel model;
    private final Workspace ws;
    private final Batch.Images images;
    private double[] losses;
    private long forwardNanos;
    private long backwardNanos;

    /** {@code ws} must be the model's workspace for {@code images.labels().length} images; the caller owns it. */
    public PixelGradients(VitModel model, Workspace ws, Batch.Images images) {
        if (ws.batch() != images.labels().length) {
            throw new IllegalArgumentException("a workspace of " + ws.batch() + " images for a batch of "
                    + images.labels().length);
        }
        for (int b = 0; b < images.labels().length; b++) {
            if (images.labels()[b] < 0) {
                throw new IllegalArgumentException("image " + b + " of the batch has no label (−1): its input "
                        + "curvature is undefined");
            }
        }
        this.model = model;
        this.ws = ws;
        this.images = images;
    }

    @Override
    public int batch() {
        return images.labels().length;
    }

    @Override
    public int dimension() {
        return images.pixels().length / images.labels().length;
    }

    @Override
    public double[] inputs() {
        return images.pixels().clone();
    }

    @Override
    public double[] gradient(double[] x) {
        long t0 = System.nanoTime();
        model.forward(ws, new Batch.Images(x, images.labels()));
        losses = ws.losses().toDoubleArray();
        long t1 = System.nanoTime();
        model.backward(ws, null, 1.0);
        double[] gradient = model.pixelGradient(ws);
        long t2 = System.nanoTime();
        forwardNanos += t1 - t0;
        backwardNanos += t2 - t1;
        return gradient;
    }

    @Override
    public double[] losses() {
        return losses;
    }

    @Override
    public long forwardNanos() {
        return forwardNanos;
    }

    @Override
    public long backwardNanos() {
        return backwardNanos;
    }
}
