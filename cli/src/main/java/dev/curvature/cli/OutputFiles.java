package dev.curvature.cli;

import dev.curvature.transformer.checkpoint.AtomicDirectory;
import dev.curvature.transformer.checkpoint.AtomicFile;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.regex.Pattern;

/**
 * How a command owns its outputs (issues 11 and 17): one run per output at a time ({@link #lock}, a lock file
 * beside the output holding the owner's PID), the temporaries a killed earlier run left beside it removed
 * ({@link #cleanLeftovers}), and every file or directory written to a temporary sibling and renamed into place only
 * when complete ({@link #writeAtomically}, {@link #replaceDirectory}). Temporaries are named
 * {@code .<name>.<anything>.tmp}, the pattern the library's atomic writes use too.
 */
final class OutputFiles {
    private OutputFiles() {
    }

    /** The held lock of one output; closing releases it and removes the lock file. */
    static final class Lock implements AutoCloseable {
        private final Path file;
        private final FileChannel channel;
        private final FileLock lock;

        private Lock(Path file, FileChannel channel, FileLock lock) {
            this.file = file;
            this.channel = channel;
            this.lock = lock;
        }

        @Override
        public void close() throws IOException {
            try {
                Files.deleteIfExists(file);   // while still held: no other run can hold this inode's lock now
                lock.release();
            } finally {
                channel.close();
            }
        }
    }

    /**
     * Takes the lock of {@code output} ({@code .<name>.lock} beside it). The OS releases it when the process dies,
     * so a killed run never blocks the next one.
     *
     * @throws IllegalStateException when another run holds it, naming that run's PID and the lock file
     */
    static Lock lock(Path output) throws IOException {
        Path target = output.toAbsolutePath().normalize();
        Files.createDirectories(target.getParent());
        Path file = target.resolveSibling("." + target.getFileName() + ".lock");
        FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException sameProcess) {
            lock = null;
        }
        if (lock == null) {
            String owner;
            try {
                owner = Files.readString(file, StandardCharsets.UTF_8).trim();
            } catch (IOException e) {
                owner = "?";
            }
            channel.close();
            throw new IllegalStateException(output + " is being written by another curvature run (PID "
                    + (owner.isEmpty() ? "?" : owner) + ", lock file " + file + "); wait for it to finish or choose "
                    + "another output");
        }
        channel.truncate(0);
        channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8)), 0);
        channel.force(true);
        return new Lock(file, channel, lock);
    }

    /**
     * Removes what a killed earlier run left beside {@code output}: {@code .<name>.*.tmp} files and directories (also
     * those of {@code <name>.partial} and {@code <name>.part-N}). If the output directory itself is missing because
     * a run was killed between the two renames of {@link #replaceDirectory}, the previous output is put back first.
     * Call it holding {@link #lock}.
     */
    static void cleanLeftovers(Path output) throws IOException {
        Path target = output.toAbsolutePath().normalize();
        Path parent = target.getParent();
        if (!Files.isDirectory(parent)) {
            return;
        }
        String name = target.getFileName().toString();
        Pattern temp = Pattern.compile("\\." + Pattern.quote(name) + "(?:\\.partial|\\.part-\\d+(?:\\.partial)?)?\\..+\\.tmp");
        Pattern previous = Pattern.compile("\\." + Pattern.quote(name) + "\\.old\\.[0-9a-f]+\\.tmp");
        try (DirectoryStream<Path> siblings = Files.newDirectoryStream(parent)) {
            for (Path p : siblings) {
                String n = p.getFileName().toString();
                if (!Files.exists(target) && previous.matcher(n).matches()) {
                    Files.move(p, target, StandardCopyOption.ATOMIC_MOVE);   // the old output, whole
                } else if (temp.matcher(n).matches()) {
                    deleteRecursively(p);
                }
            }
        }
    }

    /** Writes {@code bytes} to a temporary sibling of {@code file}, forces it, and renames it over {@code file}. */
    static void writeAtomically(Path file, byte[] bytes) throws IOException {
        Path target = file.toAbsolutePath().normalize();
        try {
            AtomicFile.write(target, channel -> {
                ByteBuffer buffer = ByteBuffer.wrap(bytes);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
            });
        } catch (RuntimeException e) {
            throw new IOException(target + ": cannot be written (" + e.getMessage() + ")", e);
        }   // an IOException already names the file (AtomicFile)
    }

    /** Replaces the directory {@code output} whole: {@link AtomicDirectory#replace}. */
    static void replaceDirectory(Path output, AtomicDirectory.Body body) throws IOException {
        AtomicDirectory.replace(output, body);
    }

    static void deleteRecursively(Path path) throws IOException {
        AtomicDirectory.deleteRecursively(path);
    }
}
