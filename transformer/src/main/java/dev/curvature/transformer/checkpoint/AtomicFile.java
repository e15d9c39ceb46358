package dev.curvature.transformer.checkpoint;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Replaces a file atomically: the body writes a temporary file in the target's directory, which is forced to disk
 * and renamed over the target; the directory is then forced so that the rename survives a crash. Readers see the
 * old file or the new one, never a torn one. A process that has the old file mapped keeps its (unlinked) pages.
 */
public final class AtomicFile {
    /** Writes the whole content through {@code channel}. */
    public interface Body {
        void writeTo(FileChannel channel) throws IOException;
    }

    private AtomicFile() {
    }

    /**
     * Writes {@code target} whole through {@code body}, or leaves it as it was: on a failure the temporary is
     * removed and the error rethrown, an I/O error with the file's name in front (the platform's "No space left on
     * device" or "File too large" names no file); a killed process leaves only the temporary
     * {@code .<name>.<hex>.tmp}.
     */
    public static void write(Path target, Body body) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path directory = absolute.getParent();
        // CREATE_NEW with default attributes: the file gets the umask's permissions, as a plain write would
        // (Files.createTempFile would make it 0600)
        Path temp = directory.resolve("." + absolute.getFileName() + "."
                + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        try {
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                HaltPoint.reach("atomic-write.open");
                body.writeTo(channel);
                channel.force(true);
            }
            HaltPoint.reach("atomic-write.forced");
            Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE);
            HaltPoint.reach("atomic-write.renamed");
        } catch (Throwable t) {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException suppressed) {
                t.addSuppressed(suppressed);
            }
            if (t instanceof IOException io) {
                throw named(absolute, io);
            }
            throw t;
        }
        forceDirectory(directory);
    }

    /**
     * {@code error} with {@code target} (as the user will see it: inside an output directory still being filled, the
     * output's own path) in front, unless its message already names the file.
     */
    private static IOException named(Path target, IOException error) {
        String shown = AtomicDirectory.finalPath(target).toString();
        String message = String.valueOf(error.getMessage());
        if (message.contains(target.getFileName().toString())) {
            return error;
        }
        return new IOException(shown + ": cannot be written (" + message + ")", error);
    }

    /** fsync of the directory entry; Linux and macOS allow it, some platforms refuse to open a directory. */
    private static void forceDirectory(Path directory) {
        try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ)) {
            dir.force(true);
        } catch (IOException ignored) {
            // the data file itself is already forced; only the rename's durability is at stake on such platforms
        }
    }
}
