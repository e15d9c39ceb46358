package dev.curvature.transformer.data;

import dev.curvature.transformer.checkpoint.CheckpointFormatException;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

/**
 * An IDX file of unsigned bytes (the MNIST / Fashion-MNIST format), plain or gzip-compressed ({@code .gz}):
 * a big-endian header {@code 0x00 0x00 0x08 <rank>}, then rank big-endian int32 dimensions, then the elements in
 * row-major order. Only the unsigned-byte type (0x08) is read; the element count is bounded before anything is
 * allocated, and the data must end exactly where the header says.
 *
 * @param shape dimensions, outermost first (images: count, rows, columns; labels: count)
 * @param data  the elements, as unsigned values 0..255 in bytes
 */
public record IdxFile(int[] shape, byte[] data) {
    /** The largest element count read: Fashion-MNIST's training images are 47 M. */
    public static final long MAX_ELEMENTS = 1L << 28;

    /** Element at flat index i as 0..255. */
    public int unsigned(long i) {
        return data[(int) i] & 0xFF;
    }

    /** Reads {@code file}; errors name the file and what is wrong with it. */
    public static IdxFile read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new CheckpointFormatException(file, null, "is not a regular file (an IDX file was expected)");
        }
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            InputStream in = file.getFileName().toString().endsWith(".gz") ? new GZIPInputStream(raw, 1 << 16) : raw;
            return read(file, new DataInputStream(in));
        } catch (java.util.zip.ZipException e) {
            throw new CheckpointFormatException(file, null, "is not valid gzip: " + e.getMessage(), e);
        }
    }

    private static IdxFile read(Path file, DataInputStream in) throws IOException {
        try {
            int magic = in.readInt();
            if ((magic >>> 8) != 0x08 || (magic & 0xFF) < 1 || (magic & 0xFF) > 4) {
                throw new CheckpointFormatException(file, null, String.format("IDX magic 0x%08x is not an unsigned-"
                        + "byte array of rank 1..4 (expected 0x0000080r)", magic));
            }
            int[] shape = new int[magic & 0xFF];
            long count = 1;
            for (int d = 0; d < shape.length; d++) {
                shape[d] = in.readInt();
                if (shape[d] < 0) {
                    throw new CheckpointFormatException(file, null, "IDX dimension " + d + " is negative: " + shape[d]);
                }
                count *= shape[d];
                if (count > MAX_ELEMENTS) {
                    throw new CheckpointFormatException(file, null, "IDX shape " + Arrays.toString(shape) + " holds more"
                            + " than " + MAX_ELEMENTS + " elements");
                }
            }
            byte[] data = new byte[(int) count];
            in.readFully(data);
            if (in.read() != -1) {
                throw new CheckpointFormatException(file, null, "IDX data is longer than its shape "
                        + Arrays.toString(shape) + " says (" + count + " bytes)");
            }
            return new IdxFile(shape, data);
        } catch (EOFException e) {
            throw new CheckpointFormatException(file, null, "IDX file ends before its header and data are complete",
                    e);
        }
    }
}
