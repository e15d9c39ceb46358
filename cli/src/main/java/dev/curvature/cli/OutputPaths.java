package dev.curvature.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;

/**
 * The output rule every command follows before it does any work: an output path that is an input, lies inside an
 * input directory, or contains an input (an output directory is replaced whole) is refused, with both paths named.
 * Paths are compared after resolving {@code ..} and symbolic links, of the path itself and of every existing parent,
 * so {@code out -> model/model.safetensors} or {@code model/../model} are caught as well as the plain path.
 */
final class OutputPaths {
    private OutputPaths() {
    }

    /**
     * Refuses {@code output} (given as option {@code outputOption}) when it overlaps any of {@code inputs}
     * (what each is, e.g. "corpus (--corpus)" → its paths; null paths are skipped).
     *
     * @throws IllegalArgumentException naming the output option, the input option and both paths
     */
    static void requireDistinct(String outputOption, Path output, Map<String, ? extends Iterable<Path>> inputs)
            throws IOException {
        if (output == null) {
            return;
        }
        Path out = canonical(output);
        for (Map.Entry<String, ? extends Iterable<Path>> e : inputs.entrySet()) {
            for (Path input : e.getValue()) {
                if (input == null) {
                    continue;
                }
                Path in = canonical(input);
                String relation = out.equals(in) ? "is"
                        : out.startsWith(in) ? "is inside"
                        : in.startsWith(out) ? "contains" : null;
                if (relation != null) {
                    throw new IllegalArgumentException(outputOption + " " + output + " " + relation + " the input "
                            + e.getKey() + " " + input
                            + ": refusing to write over an input (nothing written); choose another " + outputOption);
                }
            }
        }
    }

    /** {@link #requireDistinct(String, Path, Map)} for one input option. */
    static void requireDistinct(String outputOption, Path output, String inputOption, Path... inputs)
            throws IOException {
        requireDistinct(outputOption, output, Map.of(inputOption, java.util.Arrays.asList(inputs)));
    }

    /**
     * The absolute, normalized path with every symbolic link resolved: the longest existing prefix through
     * {@link Path#toRealPath}, the rest (not yet created) appended; a dangling link is followed to its target.
     */
    static Path canonical(Path path) throws IOException {
        Path absolute = path.toAbsolutePath().normalize();
        for (int hops = 0; hops < 40 && Files.isSymbolicLink(absolute) && !Files.exists(absolute); hops++) {
            absolute = absolute.resolveSibling(Files.readSymbolicLink(absolute)).toAbsolutePath().normalize();
        }
        Path existing = absolute;
        Path rest = null;
        while (existing != null && !Files.exists(existing, LinkOption.NOFOLLOW_LINKS)) {
            Path name = existing.getFileName();
            rest = rest == null ? name : name.resolve(rest);
            existing = existing.getParent();
        }
        if (existing == null) {
            return absolute;
        }
        Path real = Files.exists(existing) ? existing.toRealPath() : existing;
        return rest == null ? real : real.resolve(rest).normalize();
    }
}
