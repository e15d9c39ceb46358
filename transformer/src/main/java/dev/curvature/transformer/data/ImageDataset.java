package dev.curvature.transformer.data;

import dev.curvature.transformer.checkpoint.CheckpointFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Grey-scale images with class labels, as IDX pairs: pixels as unsigned bytes (count, rows, columns), labels
 * (count). Fashion-MNIST (Debian {@code dataset-fashion-mnist}, installed by {@code bin/setup}) has 60,000 training
 * and 10,000 test images of 28 × 28 in 10 classes.
 *
 * @param pixels  count · rows · columns bytes, image-major, row-major within an image
 * @param labels  one class per image, 0 .. classes − 1
 * @param rows    image height
 * @param columns image width
 * @param classes number of classes (1 + the largest label)
 */
public record ImageDataset(byte[] pixels, int[] labels, int rows, int columns, int classes) {
    /** Where Debian's {@code dataset-fashion-mnist} puts the files. */
    public static final Path FASHION_MNIST = Path.of("/usr/share/datasets/fashion-mnist");

    /** Images. */
    public int size() {
        return labels.length;
    }

    /** Pixel (r, c) of image i scaled to [0, 1]. */
    public double pixel(int i, int r, int c) {
        return (pixels[(i * rows + r) * columns + c] & 0xFF) / 255.0;
    }

    /** The split "train" or "t10k" of Fashion-MNIST in {@code directory} ({@code <split>-images-idx3-ubyte.gz} etc.). */
    public static ImageDataset fashionMnist(Path directory, String split) throws IOException {
        Path images = directory.resolve(split + "-images-idx3-ubyte.gz");
        Path labels = directory.resolve(split + "-labels-idx1-ubyte.gz");
        if (!Files.exists(images) || !Files.exists(labels)) {
            throw new java.nio.file.NoSuchFileException(images.toString(), labels.toString(), "Fashion-MNIST not found:"
                    + " install Debian's dataset-fashion-mnist (bin/setup does) or pass its directory");
        }
        return of(IdxFile.read(images), IdxFile.read(labels), images, labels);
    }

    /** Images and labels from two IDX files; their counts must agree and labels must be below 256. */
    public static ImageDataset of(IdxFile images, IdxFile labels, Path imagesFile, Path labelsFile)
            throws CheckpointFormatException {
        if (images.shape().length != 3) {
            throw new CheckpointFormatException(imagesFile, null, "images must be a rank-3 IDX array (count, rows, "
                    + "columns), found rank " + images.shape().length);
        }
        if (labels.shape().length != 1 || labels.shape()[0] != images.shape()[0]) {
            throw new CheckpointFormatException(labelsFile, null, "labels must be a rank-1 IDX array of "
                    + images.shape()[0] + " entries (one per image in " + imagesFile.getFileName() + "), found shape "
                    + java.util.Arrays.toString(labels.shape()));
        }
        int[] classesOf = new int[labels.shape()[0]];
        int classes = 0;
        for (int i = 0; i < classesOf.length; i++) {
            classesOf[i] = labels.unsigned(i);
            classes = Math.max(classes, classesOf[i] + 1);
        }
        return new ImageDataset(images.data(), classesOf, images.shape()[1], images.shape()[2], classes);
    }

    /** The first {@code count} images (a smaller run), sharing no arrays with this one. */
    public ImageDataset first(int count) {
        if (count < 1 || count > size()) {
            throw new IllegalArgumentException("cannot take " + count + " of " + size() + " images");
        }
        byte[] p = java.util.Arrays.copyOf(pixels, count * rows * columns);
        return new ImageDataset(p, java.util.Arrays.copyOf(labels, count), rows, columns, classes);
    }
}
