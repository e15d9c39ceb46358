package dev.curvature.transformer.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;

/** GPT-2's vocabulary files and the reference fixture, as committed under src/test/resources. */
final class Gpt2Files {
    static final Path ENCODER_JSON = resource("gpt2/encoder.json.gz");
    static final Path VOCAB_BPE = resource("gpt2/vocab.bpe.gz");
    static final Path REFERENCE_IDS = resource("gpt2/reference-ids.json");

    private static BytePairTokenizer tokenizer;

    private Gpt2Files() {
    }

    /** GPT-2's tokenizer from encoder.json.gz + vocab.bpe.gz, loaded once per test JVM. */
    static synchronized BytePairTokenizer tokenizer() {
        if (tokenizer == null) {
            try {
                tokenizer = BytePairTokenizer.fromGpt2Files(ENCODER_JSON, VOCAB_BPE);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return tokenizer;
    }

    static JsonNode referenceFixture() throws IOException {
        return new ObjectMapper().readTree(REFERENCE_IDS.toFile());
    }

    static Path resource(String name) {
        try {
            return Path.of(Gpt2Files.class.getResource(name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("test resource " + name + " is missing", e);
        }
    }
}
