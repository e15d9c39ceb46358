package dev.curvature.transformer.model;

/** One batch of model inputs with their labels: token windows for language models, images for classifiers. */
public sealed interface Batch {
    /**
     * Token windows: {@code ids} (B·T, row-major (B, T)) and next-token {@code targets} (B·T, −1 where a position is
     * not scored).
     */
    record Tokens(int[] ids, int[] targets) implements Batch {
        public Tokens {
            if (ids.length != targets.length) {
                throw new IllegalArgumentException(ids.length + " ids but " + targets.length + " targets");
            }
        }
    }

    /**
     * Images: {@code pixels} (B·C·H·W, image-major, channels then rows then columns, values as the model expects
     * them, e.g. [0, 1]) and one class label per image ({@code labels} (B), −1 where an image is not scored).
     */
    record Images(double[] pixels, int[] labels) implements Batch {
        public Images {
            if (labels.length == 0 || pixels.length % labels.length != 0) {
                throw new IllegalArgumentException(pixels.length + " pixel values do not make " + labels.length
                        + " images of one size");
            }
        }
    }
}
