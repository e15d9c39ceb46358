package dev.curvature.transformer.tokenizer;

import java.io.IOException;
import java.nio.file.Path;

/** A tokenizer file that cannot be used: the message names the file and what is wrong with it. */
public final class MalformedTokenizerFileException extends IOException {
    private final Path file;

    public MalformedTokenizerFileException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    public MalformedTokenizerFileException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    /** The file that is malformed. */
    public Path file() {
        return file;
    }
}
