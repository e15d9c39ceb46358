package dev.curvature.transformer.train;

import dev.curvature.transformer.data.ImageDataset;
import dev.curvature.transformer.model.Batch;


/**
 * Labelled images for training, in a seeded shuffle per epoch: the batch of step s holds samples s·B … s·B + B − 1
 * of the epoch-wise shuffled sequence, pixels scaled to [0, 1], labels as given (e.g. with symmetric noise).
 */
public final class ImageBatches implements BatchSource {
    private final ImageDataset images;
    private final int[] labels;
    private final int tokensPerImage;
    private final EpochOrder order;

    /**
     * @param images         the images
     * @param labels         their training labels (N): the dataset's own, or noisy ones
     * @param tokensPerImage what the model's workspace calls time (a ViT's 1 + patches)
     * @param seed           the shuffle seed
     */
    public ImageBatches(ImageDataset images, int[] labels, int tokensPerImage, long seed) {
        if (labels.length != images.size()) {
            throw new IllegalArgumentException(labels.length + " labels for " + images.size() + " images");
        }
        this.images = images;
        this.labels = labels.clone();
        this.tokensPerImage = tokensPerImage;
        this.order = new EpochOrder(images.size(), seed);
    }

    @Override
    public Batch batch(long step, int batch) {
        int values = images.rows() * images.columns();
        double[] pixels = new double[batch * values];
        int[] out = new int[batch];
        int[] indices = samples(step, batch);
        for (int b = 0; b < batch; b++) {
            out[b] = labels[indices[b]];
            copyPixels(images, indices[b], pixels, b * values);
        }
        return new Batch.Images(pixels, out);
    }

    @Override
    public int sampleCount() {
        return images.size();
    }

    @Override
    public int[] samples(long step, int batch) {
        return order.samples(step * batch, batch);
    }

    /** Image {@code index}'s pixels scaled to [0, 1], written at {@code to}. */
    public static void copyPixels(ImageDataset images, int index, double[] into, int to) {
        int values = images.rows() * images.columns();
        byte[] raw = images.pixels();
        for (int i = 0; i < values; i++) {
            into[to + i] = (raw[index * values + i] & 0xFF) / 255.0;
        }
    }

    /** Images {@code from .. from + count} in dataset order, with the given labels (evaluation). */
    public static Batch.Images consecutive(ImageDataset images, int[] labels, int from, int count) {
        int values = images.rows() * images.columns();
        double[] pixels = new double[count * values];
        int[] out = new int[count];
        for (int b = 0; b < count; b++) {
            copyPixels(images, from + b, pixels, b * values);
            out[b] = labels[from + b];
        }
        return new Batch.Images(pixels, out);
    }

    @Override
    public int time() {
        return tokensPerImage;
    }
}
