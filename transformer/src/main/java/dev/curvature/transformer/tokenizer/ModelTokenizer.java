package dev.curvature.transformer.tokenizer;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The tokenizer of a model directory under a --tokenizer choice, and its identity as recorded in factor
 * descriptions; one rule for every entry point (the command line, a Spark executor), so that both tokenize a corpus
 * alike and describe it alike.
 */
public final class ModelTokenizer {
    private ModelTokenizer() {
    }

    /**
     * The tokenizer of model directory {@code model} under a --tokenizer value ({@code option}: a tokenizer.json,
     * 'bytes', or null for the directory's own tokenizer.json, else bytes when the vocabulary has 256 entries).
     */
    public static Tokenizer load(Path model, String option, int vocabularySize) throws IOException {
        if ("bytes".equals(option)) {
            return new ByteTokenizer();
        }
        if (option != null) {
            return BytePairTokenizer.fromTokenizerJson(Path.of(option));
        }
        if (Files.exists(model.resolve("tokenizer.json")) || Files.exists(model.resolve("tokenizer.json.gz"))) {
            return BytePairTokenizer.fromModelDirectory(model);
        }
        if (vocabularySize == 256) {
            return new ByteTokenizer();
        }
        throw new IllegalArgumentException(model + " has no tokenizer.json and a vocabulary of " + vocabularySize
                + " (not bytes): pass --tokenizer FILE");
    }

    /**
     * The identity of what {@link #load} read: "bytes" for one token per byte, else "sha256:…" over the tokenizer
     * file's bytes followed by those of the model directory's tokenizer_config.json when that was read too (it sets
     * BOS/EOS).
     */
    public static String digest(Path model, String option, Tokenizer loaded) throws IOException {
        if (loaded instanceof ByteTokenizer) {
            return "bytes";
        }
        List<Path> files = new ArrayList<>();
        if (option != null) {
            files.add(Path.of(option));
        } else {
            Path json = model.resolve("tokenizer.json");
            files.add(Files.exists(json) ? json : model.resolve("tokenizer.json.gz"));
            if (Files.exists(model.resolve("tokenizer_config.json"))) {
                files.add(model.resolve("tokenizer_config.json"));
            }
        }
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
        for (Path f : files) {
            try (var in = new DigestInputStream(Files.newInputStream(f), sha)) {
                in.transferTo(OutputStream.nullOutputStream());
            }
        }
        return "sha256:" + HexFormat.of().formatHex(sha.digest());
    }
}
