package dev.curvature.transformer.checkpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Replaces a directory whole (a model checkpoint, an edit, a training checkpoint): the body fills a temporary
 * sibling {@code .<name>.new.<hex>.tmp}, which then takes the output's place. On Linux an existing output is swapped
 * with it in one step ({@link RenameExchange}), so that at every instant the output path holds the old directory or
 * the new one; elsewhere by two renames (the previous output moved aside to {@code .<name>.old.<hex>.tmp}, the new
 * one moved in), a kill between which the next run's leftover cleanup repairs by moving the old one back. A failure
 * or a kill before the swap leaves the previous output as it was; the previous one, then a temporary, is deleted
 * after the swap.
 */
public final class AtomicDirectory {
    /** Fills a directory. */
    public interface Body {
        void writeInto(Path directory) throws IOException;
    }

    private AtomicDirectory() {
    }

    public static void replace(Path output, Body body) throws IOException {
        Path target = output.toAbsolutePath().normalize();
        if (Files.exists(target) && !Files.isDirectory(target)) {
            throw new IllegalArgumentException(output + " exists and is not a directory");
        }
        Files.createDirectories(target.getParent());
        Path fresh = temporarySibling(target, ".new");
        Files.createDirectory(fresh);
        try {
            body.writeInto(fresh);
        } catch (IOException | RuntimeException | Error e) {
            deleteRecursively(fresh);
            throw e;
        }
        HaltPoint.reach("directory.filled");
        Path previous = null;
        if (Files.exists(target)) {
            if (RenameExchange.swap(fresh, target)) {
                previous = fresh;     // now holds the old output
            } else {
                previous = temporarySibling(target, ".old");
                Files.move(target, previous, StandardCopyOption.ATOMIC_MOVE);
                HaltPoint.reach("directory.aside");
                Files.move(fresh, target, StandardCopyOption.ATOMIC_MOVE);
            }
        } else {
            Files.move(fresh, target, StandardCopyOption.ATOMIC_MOVE);
        }
        HaltPoint.reach("directory.swapped");
        if (previous != null) {
            deleteRecursively(previous);
        }
    }

    /**
     * Where {@code path} will be once its directory is in place: a path inside a temporary sibling
     * {@code .<name>.new.<hex>.tmp} maps to the same path inside {@code <name>}; any other path is returned as it is.
     */
    public static Path finalPath(Path path) {
        for (Path p = path; p != null && p.getParent() != null; p = p.getParent()) {
            Matcher m = FRESH.matcher(String.valueOf(p.getFileName()));
            if (m.matches()) {
                return p.resolveSibling(m.group(1)).resolve(p.relativize(path));
            }
        }
        return path;
    }

    private static final Pattern FRESH = Pattern.compile("\\.(.+)\\.new\\.[0-9a-f]+\\.tmp");

    /** {@code .<name><kind>.<hex>.tmp} beside {@code target}: the pattern leftover cleanup removes. */
    public static Path temporarySibling(Path target, String kind) {
        return target.resolveSibling("." + target.getFileName() + kind + "."
                + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE) + ".tmp");
    }

    /** Deletes a file, or a directory and everything in it (links not followed); nothing when it is absent. */
    public static void deleteRecursively(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
            try (Stream<Path> all = Files.walk(path)) {
                for (Path p : (Iterable<Path>) all.sorted(Comparator.reverseOrder())::iterator) {
                    Files.deleteIfExists(p);
                    HaltPoint.reach("directory.deleting");
                }
            }
        } else {
            Files.deleteIfExists(path);
        }
    }
}
