package dev.curvature.transformer.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The check every reader makes before it reads (issue 11): the input is a regular file (not a directory, a device
 * such as /dev/zero, or a FIFO, which would hang) of a plausible size, so nothing is read or allocated beyond a
 * bound. Errors name the file.
 */
public final class InputFiles {
    private InputFiles() {
    }

    /** Refuses {@code file} unless it is a regular file of at most {@code maxBytes}; returns its size. */
    public static long requireRegular(Path file, long maxBytes) throws IOException {
        if (!Files.exists(file)) {
            throw new java.nio.file.NoSuchFileException(file.toString(), null, "no such file");
        }
        if (!Files.isRegularFile(file)) {
            throw new IOException(file + ": not a regular file (" + (Files.isDirectory(file) ? "a directory"
                    : "a device, FIFO or socket") + "); give a file");
        }
        long size = Files.size(file);
        if (size > maxBytes) {
            throw new IOException(file + ": too large (" + size + " bytes; at most " + maxBytes + " are read)");
        }
        return size;
    }
}
