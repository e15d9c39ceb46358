package dev.curvature.transformer.checkpoint;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A checkpoint file (safetensors, its shard index, or {@code config.json}) is malformed or disagrees with what
 * curvature expects. The message names the file and, where one is at fault, the tensor (or config field).
 *
 * <p>An {@link IOException} like {@link java.util.zip.ZipException}: bad bytes on disk are an input failure, and
 * callers that read checkpoints already handle I/O errors.
 */
public final class CheckpointFormatException extends IOException {
    private static final int MAX_QUOTED_CHARS = 200;

    private final transient Path file;
    private final String tensorName;

    /** A fault of {@code file} as a whole (length prefix, JSON syntax) or, when {@code tensorName} is set, of one tensor. */
    public CheckpointFormatException(Path file, String tensorName, String detail) {
        super(file + (tensorName == null ? "" : ": tensor " + quote(tensorName)) + ": " + detail);
        this.file = file;
        this.tensorName = tensorName;
    }

    /** As above, keeping the parser's exception as the cause. */
    public CheckpointFormatException(Path file, String tensorName, String detail, Throwable cause) {
        this(file, tensorName, detail);
        initCause(cause);
    }

    /** The file at fault (a {@code .safetensors} file, a shard index or a {@code config.json}). */
    public Path file() {
        return file;
    }

    /** The tensor at fault, or null when the fault is in the file as a whole. */
    public String tensorName() {
        return tensorName;
    }

    /**
     * {@code 'name'} for a message: control characters escaped and long names cut, because names in a damaged
     * header can be anything, up to the 100 MB header limit.
     */
    static String quote(String name) {
        StringBuilder sb = new StringBuilder(Math.min(name.length(), MAX_QUOTED_CHARS) + 8).append('\'');
        int limit = Math.min(name.length(), MAX_QUOTED_CHARS);
        for (int i = 0; i < limit; i++) {
            char c = name.charAt(i);
            if (c < 0x20 || c == 0x7F) {
                sb.append(String.format("\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        if (name.length() > limit) {
            sb.append("…(").append(name.length()).append(" chars)");
        }
        return sb.append('\'').toString();
    }
}
