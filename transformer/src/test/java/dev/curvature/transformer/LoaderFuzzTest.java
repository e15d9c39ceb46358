package dev.curvature.transformer;

import dev.curvature.engine.JsonFuzz;
import dev.curvature.transformer.checkpoint.CheckpointFormatException;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.data.TextCorpus;
import dev.curvature.transformer.model.ModelConfig;
import dev.curvature.transformer.tokenizer.BytePairTokenizer;
import dev.curvature.transformer.tokenizer.MalformedTokenizerFileException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Seeded mutation fuzzing ({@link JsonFuzz}) of the JSON-shaped model inputs: config.json of every family,
 * tokenizer.json of both kinds, JSONL corpora. Each mutant either loads (and is then used: the config's layers
 * listed, a text encoded and decoded, the documents counted) or is refused with the loader's format exception naming
 * the file; nothing else escapes, nothing hangs, no load allocates more than 128 MB.
 */
class LoaderFuzzTest {
    private static final long BOUND = 128L << 20;
    private static final com.fasterxml.jackson.databind.ObjectMapper STRICT = new com.fasterxml.jackson.databind
            .ObjectMapper().enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    @TempDir
    Path dir;

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = LoaderFuzzTest.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("test resource " + name + " is missing");
            }
            return in.readAllBytes();
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void mutatedConfigsLoadOrAreRefusedNamingTheFile() throws Exception {
        Path model = Files.createDirectories(dir.resolve("model"));
        Path config = model.resolve("config.json");
        long seed = 0xC0F1_6000L;
        for (String family : List.of("gpt2-tiny", "llama-tiny", "olmo2-tiny", "vit-tiny")) {
            JsonFuzz.Outcome o = JsonFuzz.run(resource("/" + family + "/config.json"), seed++, 1500, config,
                    (json, file) -> Files.write(file, json), file -> {
                        ModelConfig c = ModelCheckpoints.readConfig(file.getParent());
                        assertTrue(c.linearLayers().size() > 0 && c.contextLength() > 0, c.toString());
                    }, CheckpointFormatException.class, BOUND);
            System.out.println("config.json fuzz (" + family + "): " + o);
            assertTrue(o.loaded() > 50 && o.refused() > 500, o.toString());
            assertTrue(o.namedField() > 0.8 * o.replacedAndRefused(), "refusals naming the field: " + o);
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void mutatedTokenizerJsonLoadsOrIsRefusedNamingTheFile() throws Exception {
        long seed = 0x70CE_0000L;
        for (String name : List.of("tiny-tokenizer.json", "tiny-split-tokenizer.json")) {
            Path file = dir.resolve(name);
            JsonFuzz.Outcome o = JsonFuzz.run(resource("/dev/curvature/transformer/tokenizer/" + name), seed++, 1500,
                    file, (json, f) -> Files.write(f, json), f -> {
                        BytePairTokenizer t = BytePairTokenizer.fromTokenizerJson(f);
                        try {
                            t.decode(t.encode("hello"));
                        } catch (IllegalArgumentException textOutsideTheVocabulary) {
                            // the tiny vocabularies hold a few bytes only; a mutant may lose one: the text is refused
                            assertTrue(textOutsideTheVocabulary.getMessage().contains("has no token in the "
                                    + "vocabulary of " + f), textOutsideTheVocabulary.getMessage());
                        }
                    }, MalformedTokenizerFileException.class, BOUND);
            System.out.println("tokenizer.json fuzz (" + name + "): " + o);
            assertTrue(o.loaded() > 50 && o.refused() > 500, o.toString());
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void mutatedJsonlCorporaLoadOrAreRefusedNamingTheFile() throws Exception {
        Path file = dir.resolve("corpus.jsonl");
        String valid = "{\"text\": \"In the beginning\", \"id\": 1}\n{\"text\": \"God created\", \"id\": 2}\n\n"
                + "{\"id\": 3, \"text\": \"the heaven and the earth.\"}\n";
        JsonFuzz.Outcome o = JsonFuzz.run(valid.getBytes(StandardCharsets.UTF_8), 0x150_4C00L, 2000, file,
                (json, f) -> Files.write(f, json), f -> {
                    TextCorpus c = TextCorpus.read(f);
                    // reference: each non-blank line through a strict JSON grammar (one object, keys unique)
                    List<String> expected = new java.util.ArrayList<>();
                    for (String line : Files.readString(f).split("\r\n|\r|\n")) {
                        if (!line.isBlank()) {
                            try {
                                expected.add(STRICT.readTree(line).get("text").textValue());
                            } catch (com.fasterxml.jackson.core.JacksonException lenient) {
                                fail("accepted a line the strict grammar refuses: " + line, lenient);
                            }
                        }
                    }
                    assertEquals(expected, c.documents(), "one document per line, as the strict grammar reads it");
                }, IOException.class, BOUND);
        System.out.println("JSONL fuzz: " + o);
        assertTrue(o.loaded() > 50 && o.refused() > 500, o.toString());
    }
}
