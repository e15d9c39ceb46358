package dev.curvature.transformer.data;

import dev.curvature.transformer.checkpoint.CheckpointFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * IDX files (hand-built bytes as the reference, plain and gzip), Fashion-MNIST as Debian ships it (its published
 * counts: 60,000 training and 10,000 test images of 28 × 28, exactly 6,000 and 1,000 per class), and symmetric label
 * noise (exact counts, only other classes, seeded, uniform over the other classes).
 */
class ImageDataTest {

    static byte[] idx(int[] shape, byte[] data) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeInt(0x00000800 | shape.length);
        for (int d : shape) {
            out.writeInt(d);
        }
        out.write(data);
        return bytes.toByteArray();
    }

    static Path write(Path file, byte[] content, boolean gzip) throws IOException {
        try (OutputStream out = gzip ? new GZIPOutputStream(Files.newOutputStream(file)) : Files.newOutputStream(file)) {
            out.write(content);
        }
        return file;
    }

    @Test
    void idxFilesReadPlainAndGzippedToTheirShapeAndBytes(@TempDir Path dir) throws Exception {
        byte[] data = {0, 1, (byte) 200, (byte) 255, 7, 9};
        for (boolean gzip : new boolean[]{false, true}) {
            Path file = write(dir.resolve(gzip ? "a.idx.gz" : "a.idx"), idx(new int[]{2, 1, 3}, data), gzip);
            IdxFile read = IdxFile.read(file);
            assertArrayEquals(new int[]{2, 1, 3}, read.shape());
            assertArrayEquals(data, read.data());
            assertEquals(200, read.unsigned(2));
            assertEquals(255, read.unsigned(3));
        }
    }

    @Test
    void malformedIdxFilesAreRefusedNamingTheFileAndTheFault(@TempDir Path dir) throws Exception {
        byte[] good = idx(new int[]{2, 2}, new byte[4]);
        byte[] badMagic = good.clone();
        badMagic[2] = 0x0D;                                           // 0x0D = float, not unsigned byte
        byte[] truncated = Arrays.copyOf(good, good.length - 1);
        byte[] longer = Arrays.copyOf(good, good.length + 1);
        byte[] huge = idx(new int[]{1 << 15, 1 << 15}, new byte[0]);   // 2³⁰ elements: refused before allocation
        String[][] cases = {{"magic.idx", "magic"}, {"short.idx", "ends before"}, {"long.idx", "longer"},
                {"huge.idx", "more than"}};
        byte[][] contents = {badMagic, truncated, longer, huge};
        for (int i = 0; i < cases.length; i++) {
            Path file = write(dir.resolve(cases[i][0]), contents[i], false);
            var e = assertThrows(CheckpointFormatException.class, () -> IdxFile.read(file));
            assertTrue(e.getMessage().contains(cases[i][0]) && e.getMessage().contains(cases[i][1]), e.getMessage());
        }
        Path notGzip = write(dir.resolve("plain.gz"), good, false);
        var e = assertThrows(CheckpointFormatException.class, () -> IdxFile.read(notGzip));
        assertTrue(e.getMessage().contains("gzip"), e.getMessage());
        var directory = assertThrows(CheckpointFormatException.class, () -> IdxFile.read(dir));
        assertTrue(directory.getMessage().contains("not a regular file"), directory.getMessage());
    }

    @Test
    void fashionMnistHasItsPublishedCountsAndBalancedClasses() throws Exception {
        assertTrue(Files.isDirectory(ImageDataset.FASHION_MNIST), ImageDataset.FASHION_MNIST
                + " is missing: bin/setup --deps-only installs Debian's dataset-fashion-mnist");
        for (String[] split : new String[][]{{"train", "60000"}, {"t10k", "10000"}}) {
            ImageDataset data = ImageDataset.fashionMnist(ImageDataset.FASHION_MNIST, split[0]);
            int count = Integer.parseInt(split[1]);
            assertEquals(count, data.size(), split[0]);
            assertEquals(28, data.rows());
            assertEquals(28, data.columns());
            assertEquals(10, data.classes());
            int[] perClass = new int[10];
            for (int label : data.labels()) {
                perClass[label]++;
            }
            int[] expected = new int[10];
            Arrays.fill(expected, count / 10);
            assertArrayEquals(expected, perClass, split[0] + " is balanced: " + count / 10 + " images per class");
            double mean = 0;
            for (byte p : data.pixels()) {
                mean += (p & 0xFF) / 255.0;
            }
            mean /= data.pixels().length;
            assertTrue(mean > 0.2 && mean < 0.4, split[0] + ": mean pixel " + mean + " (Fashion-MNIST's is ≈ 0.29)");
        }
    }

    @Test
    void symmetricNoiseFlipsExactlyTheRequestedShareToOtherClassesUniformly() {
        int n = 50_000;
        int classes = 10;
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = i % classes;
        }
        LabelNoise noise = LabelNoise.symmetric(labels, classes, 0.1, 7);
        assertEquals(5_000, noise.flipped().length);
        int changed = 0;
        int[] offsets = new int[classes];              // (noisy − true) mod K over the flipped samples: 1 .. K − 1
        for (int i = 0; i < n; i++) {
            if (noise.noisyLabels()[i] != labels[i]) {
                changed++;
                offsets[Math.floorMod(noise.noisyLabels()[i] - labels[i], classes)]++;
            }
        }
        assertEquals(5_000, changed, "every drawn index changes class, no other does");
        assertEquals(0, offsets[0]);
        for (int k = 1; k < classes; k++) {
            // 5000 flips over 9 other classes: 555.6 expected each, binomial sd ≈ 22: a 5 sd band
            assertTrue(Math.abs(offsets[k] - 5000 / 9.0) < 5 * 22.2, "offset " + k + ": " + offsets[k]);
        }
        for (int i = 1; i < noise.flipped().length; i++) {
            assertTrue(noise.flipped()[i - 1] < noise.flipped()[i], "ascending and distinct");
        }
        assertArrayEquals(noise.noisyLabels(), LabelNoise.symmetric(labels, classes, 0.1, 7).noisyLabels(), "seeded");
        assertTrue(!Arrays.equals(noise.noisyLabels(), LabelNoise.symmetric(labels, classes, 0.1, 8).noisyLabels()));
        assertEquals(0, LabelNoise.symmetric(labels, classes, 0.0, 1).flipped().length);
        assertThrows(IllegalArgumentException.class, () -> LabelNoise.symmetric(labels, classes, 1.5, 1));
    }
}
