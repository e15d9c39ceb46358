package dev.curvature.spark;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The corpus of a distributed collection, cut into shards listed in a manifest file. Shard {@code i} is line
 * {@code i} (blank lines and lines starting with '#' are not shards): either {@code PATH} (a whole file) or
 * {@code PATH START END} (bytes [START, END) of the file, END exclusive). A relative PATH is taken from the manifest's
 * folder; a Hadoop FileSystem URI ({@code hdfs://…}, {@code s3a://…}) is read through Hadoop. Shard order is the order of addition when the shards' factors are merged, so it is part of the result.
 */
public record CorpusManifest(Path file, List<Shard> shards) {
    /**
     * One corpus shard: its index (its place in the merge order), its file and, for a byte range, bytes
     * [start, end); {@code end < 0} means the whole file.
     */
    public record Shard(int index, String path, long start, long end) implements Serializable {
        public boolean isRange() {
            return end >= 0;
        }

        /** "path" or "path[start, end)" for messages. */
        public String describe() {
            return isRange() ? path + " bytes [" + start + ", " + end + ")" : path;
        }
    }

    public CorpusManifest {
        shards = List.copyOf(shards);
    }

    /** Reads a manifest; a malformed line is an error naming the manifest, the line and what is wrong. */
    public static CorpusManifest read(Path manifest) throws IOException {
        List<String> lines = Files.readAllLines(manifest, StandardCharsets.UTF_8);
        Path base = manifest.toAbsolutePath().getParent();
        List<Shard> shards = new ArrayList<>();
        for (int n = 0; n < lines.size(); n++) {
            String line = lines.get(n).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] fields = line.split("\\s+");
            String where = manifest + " line " + (n + 1);
            if (fields.length != 1 && fields.length != 3) {
                throw new IllegalArgumentException(where + ": expected PATH or PATH START END, got '" + line + "'");
            }
            boolean uri = SharedInputs.isUri(fields[0]);
            String path = uri ? fields[0] : base.resolve(fields[0]).normalize().toString();
            long size = uri ? SharedInputs.length(path) : Files.isRegularFile(Path.of(path)) ? Files.size(Path.of(path))
                    : -1;
            if (size < 0) {
                throw new IllegalArgumentException(where + ": corpus file " + path + " does not exist");
            }
            long start = 0;
            long end = -1;
            if (fields.length == 3) {
                start = parseOffset(where, "START", fields[1]);
                end = parseOffset(where, "END", fields[2]);
                if (start >= end || end > size) {
                    throw new IllegalArgumentException(where + ": byte range [" + start + ", " + end + ") is empty or "
                            + "not within " + path + " (" + size + " bytes)");
                }
            }
            shards.add(new Shard(shards.size(), path, start, end));
        }
        if (shards.isEmpty()) {
            throw new IllegalArgumentException(manifest + " lists no corpus shard");
        }
        return new CorpusManifest(manifest, shards);
    }

    private static long parseOffset(String where, String name, String text) {
        try {
            long value = Long.parseLong(text);
            if (value < 0) {
                throw new NumberFormatException();
            }
            return value;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(where + ": " + name + " must be a byte offset >= 0, got '" + text + "'");
        }
    }

    /**
     * Cuts {@code file} into {@code parts} byte ranges of about equal size, each ending just after a newline (so a
     * range never splits a UTF-8 character or a JSONL line), and writes them as a manifest; at least one newline must
     * fall in each part.
     */
    public static CorpusManifest split(Path file, int parts, Path manifest) throws IOException {
        if (parts < 1) {
            throw new IllegalArgumentException("parts must be >= 1, got " + parts);
        }
        byte[] bytes = Files.readAllBytes(file);
        List<Shard> shards = new ArrayList<>();
        long start = 0;
        for (int i = 1; i <= parts; i++) {
            long end = i == parts ? bytes.length : nextLineStart(bytes, (long) bytes.length * i / parts);
            if (end <= start) {
                throw new IllegalArgumentException(file + " has too few lines to cut into " + parts + " parts");
            }
            shards.add(new Shard(i - 1, file.toAbsolutePath().toString(), start, end));
            start = end;
        }
        StringBuilder text = new StringBuilder("# ").append(parts).append(" byte ranges of ").append(file)
                .append(System.lineSeparator());
        for (Shard s : shards) {
            text.append(s.path()).append(' ').append(s.start()).append(' ').append(s.end())
                    .append(System.lineSeparator());
        }
        Files.writeString(manifest, text);
        return new CorpusManifest(manifest, shards);
    }

    private static long nextLineStart(byte[] bytes, long from) {
        for (long i = from; i < bytes.length; i++) {
            if (bytes[(int) i] == '\n') {
                return i + 1;
            }
        }
        return bytes.length;
    }

    /**
     * The text of {@code shard} as a file that the library's corpus reader takes: the file itself, or bytes
     * [start, end) (or a file at a URI) copied into {@code scratch} under the same file name (so .jsonl stays
     * JSONL).
     */
    public static Path textOf(Shard shard, Path scratch) throws IOException {
        if (SharedInputs.isUri(shard.path())) {
            Files.createDirectories(scratch);
            String name = shard.path().substring(shard.path().lastIndexOf('/') + 1);
            Path copy = scratch.resolve(name.isEmpty() ? "corpus.txt" : name);
            Files.write(copy, SharedInputs.read(shard.path(), shard.start(), shard.end()));
            return copy;
        }
        Path source = Path.of(shard.path());
        if (!shard.isRange()) {
            return source;
        }
        Files.createDirectories(scratch);
        Path copy = scratch.resolve(source.getFileName().toString());
        try (FileChannel in = FileChannel.open(source, StandardOpenOption.READ);
             InputStream range = Channels.newInputStream(in.position(shard.start()))) {
            Files.write(copy, range.readNBytes(Math.toIntExact(shard.end() - shard.start())));
        }
        return copy;
    }
}
