package dev.curvature.transformer.tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad tokenizer files are refused with a message naming the file and what is wrong. Reference: the defects written
 * into each file by hand; each message must name the file, the place (line, JSON path) and the offending value.
 */
class MalformedTokenizerFilesTest {
    private static final String ENCODER = "{\"a\": 0, \"b\": 1, \"ab\": 2, \"\u0120\": 3}";
    private static final String BPE = "#version: 0.2\na b\n";

    @TempDir
    Path dir;

    /**
     * A gzip bomb (issues 11, 17): 300 MiB of spaces, 0.3 MB compressed. Decompression stops at the 256 MiB cap with
     * an error naming the file, having held no more than a buffer (not an OutOfMemoryError after 1.2 GB).
     */
    @Test
    void aTokenizerThatDecompressesBeyondTheCapIsRefusedNamingTheFile() throws IOException {
        Path bomb = dir.resolve("tokenizer.json.gz");
        try (var out = new java.util.zip.GZIPOutputStream(Files.newOutputStream(bomb), 1 << 16)) {
            byte[] spaces = new byte[1 << 20];
            java.util.Arrays.fill(spaces, (byte) ' ');
            for (int i = 0; i < 300; i++) {
                out.write(spaces);
            }
        }
        assertTrue(Files.size(bomb) < 2 << 20, "compressed " + Files.size(bomb));
        var e = assertThrows(MalformedTokenizerFileException.class, () -> BytePairTokenizer.fromTokenizerJson(bomb));
        assertTrue(e.getMessage().startsWith(bomb + ": decompresses to more than " + TokenizerFileReader.MAX_BYTES),
                e.getMessage());
    }

    @Test
    void mergeLineReferencingAnUnknownTokenNamesFileLineAndToken() throws IOException {
        Path bpe = write("vocab.bpe", "#version: 0.2\na b\nab c\n");
        assertGpt2Refused(write("encoder.json", ENCODER), bpe, bpe, "line 3", "references token 'c'");
    }

    @Test
    void mergeMakingATokenOutsideTheVocabularyIsRefused() throws IOException {
        Path bpe = write("merges.txt", "#version: 0.2\na b\nb a\n");
        assertGpt2Refused(write("encoder.json", ENCODER), bpe, bpe, "line 3", "makes token 'ba'");
    }

    @Test
    void mergeLineWithoutExactlyTwoTokensIsRefused() throws IOException {
        Path bpe = write("vocab.bpe", "#version: 0.2\na b\na b ab\n");
        assertGpt2Refused(write("encoder.json", ENCODER), bpe, bpe, "line 3", "'a b ab'");
        Path blank = write("blank.bpe", "#version: 0.2\na b\n\nab a\n");
        assertGpt2Refused(write("encoder.json", ENCODER), blank, blank, "line 3", "two tokens");
    }

    @Test
    void encoderThatIsNotAnObjectIsRefused() throws IOException {
        Path encoder = write("encoder.json", "[\"a\", \"b\"]");
        assertGpt2Refused(encoder, write("vocab.bpe", BPE), encoder, "expected a JSON object", "ARRAY");
    }

    @Test
    void encoderIdThatIsNotANonNegativeIntegerIsRefused() throws IOException {
        Path encoder = write("encoder.json", "{\"a\": 0, \"b\": \"one\"}");
        assertGpt2Refused(encoder, write("vocab.bpe", BPE), encoder, "token 'b'", "\"one\"");
        Path negative = write("negative.json", "{\"a\": 0, \"b\": -1}");
        assertGpt2Refused(negative, write("vocab.bpe", BPE), negative, "token 'b'", "-1");
    }

    @Test
    void twoTokensWithOneIdAreRefused() throws IOException {
        Path encoder = write("encoder.json", "{\"a\": 0, \"b\": 0, \"ab\": 2}");
        assertGpt2Refused(encoder, write("vocab.bpe", BPE), encoder, "id 0", "'a' and 'b'");
    }

    @Test
    void invalidJsonNamesFileAndLine() throws IOException {
        Path encoder = write("encoder.json", "{\"a\": 0,\n \"b\" 1}");
        assertGpt2Refused(encoder, write("vocab.bpe", BPE), encoder, "invalid JSON", "line 2");
        Path duplicate = write("duplicate.json", "{\"a\": 0, \"a\": 1}");
        assertGpt2Refused(duplicate, write("vocab.bpe", BPE), duplicate, "invalid JSON", "Duplicate field 'a'");
    }

    @Test
    void corruptGzipAndInvalidUtf8AreRefused() throws IOException {
        Path gz = write("encoder.json.gz", ENCODER); // not gzip data
        assertGpt2Refused(gz, write("vocab.bpe", BPE), gz, "corrupt gzip data");
        Path latin1 = dir.resolve("latin1.bpe");
        Files.write(latin1, new byte[] {'a', ' ', (byte) 0xE9, '\n'});
        assertGpt2Refused(write("encoder.json", ENCODER), latin1, latin1, "not valid UTF-8");
    }

    @Test
    void tokenizerJsonOfAnotherModelTypeIsRefused() throws IOException {
        assertJsonRefused(tokenizerJson("\"WordPiece\"", "{\"a\": 0}", "[]", "[]", ""),
                "model.type is \"WordPiece\"");
    }

    @Test
    void tokenizerJsonWithoutVocabIsRefused() throws IOException {
        Path file = write("tokenizer.json", "{\"pre_tokenizer\": {\"type\": \"ByteLevel\","
                + " \"add_prefix_space\": false}, \"model\": {\"type\": \"BPE\", \"merges\": []}}");
        assertJsonRefused(file, "model.vocab", "expected an object");
    }

    @Test
    void tokenizerJsonMergeReferencingAnUnknownTokenNamesItsIndex() throws IOException {
        String vocab = "{\"a\": 0, \"b\": 1, \"ab\": 2}";
        assertJsonRefused(tokenizerJson("\"BPE\"", vocab, "[\"a b\", [\"ab\", \"z\"]]", "[]", ""),
                "model.merges[1]", "references token 'z'");
    }

    @Test
    void tokenizerJsonMergeOfWrongShapeIsRefused() throws IOException {
        assertJsonRefused(tokenizerJson("\"BPE\"", "{\"a\": 0, \"b\": 1, \"ab\": 2}", "[\"a b\", [\"a\"]]", "[]", ""),
                "model.merges[1]", "[\"a\"]");
        assertJsonRefused(tokenizerJson("\"BPE\"", "{\"a\": 0, \"b\": 1, \"ab\": 2}", "[\"a b ab\"]", "[]", ""),
                "model.merges[0]", "\"a b ab\"");
    }

    @Test
    void unsupportedTokenizerJsonOptionsAreNamed() throws IOException {
        String vocab = "{\"a\": 0, \"b\": 1, \"ab\": 2}";
        assertJsonRefused(tokenizerJson("\"BPE\"", vocab, "[]", "[]", ", \"byte_fallback\": true"),
                "model.byte_fallback");
        assertJsonRefused(tokenizerJson("\"BPE\"", vocab, "[]", "[]", ", \"dropout\": 0.1"), "model.dropout");
        assertJsonRefused(tokenizerJson("\"BPE\"", vocab, "[]", "[]", ", \"continuing_subword_prefix\": \"##\""),
                "model.continuing_subword_prefix");
        Path normalizer = write("normalizer.json", "{\"normalizer\": {\"type\": \"NFC\"}, \"model\": {}}");
        assertJsonRefused(normalizer, "normalizer", "NFC");
        Path metaspace = write("metaspace.json", "{\"pre_tokenizer\": {\"type\": \"Metaspace\"}, \"model\": {}}");
        assertJsonRefused(metaspace, "pre_tokenizer", "Metaspace");
        Path prefixSpace = write("prefix.json", "{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {}}");
        assertJsonRefused(prefixSpace, "pre_tokenizer.add_prefix_space");
    }

    @Test
    void addedTokensThatConflictOrUseUnsupportedOptionsAreNamed() throws IOException {
        String vocab = "{\"a\": 0, \"b\": 1, \"ab\": 2}";
        assertJsonRefused(tokenizerJson("\"BPE\"", vocab, "[]",
                "[{\"id\": 3, \"content\": \"<mask>\", \"lstrip\": true, \"special\": true}]", ""),
                "added_tokens[0]", "<mask>", "lstrip");
        assertJsonRefused(tokenizerJson("\"BPE\"", vocab, "[]", "[{\"id\": 1, \"content\": \"<s>\"}]", ""),
                "added_tokens[0]", "id 1", "'b' in model.vocab");
        assertJsonRefused(tokenizerJson("\"BPE\"", vocab, "[]", "[{\"id\": 5, \"content\": \"\"}]", ""),
                "added_tokens[0]", "empty content");
    }

    @Test
    void splitPreTokenizerOptionsThatAreNotImplementedAreNamed() throws IOException {
        assertJsonRefused(splitTokenizerJson("\"Removed\"", "false", "{\"Regex\": \"\\\\s+\"}", "false", "null"),
                "pre_tokenizer.pretokenizers[0].behavior", "Removed");
        assertJsonRefused(splitTokenizerJson("\"Isolated\"", "true", "{\"Regex\": \"\\\\s+\"}", "false", "null"),
                "pre_tokenizer.pretokenizers[0].invert");
        assertJsonRefused(splitTokenizerJson("\"Isolated\"", "false", "{\"Regex\": \"\\\\w+\"}", "false", "null"),
                "pre_tokenizer.pretokenizers[0].pattern.Regex", "\\w");
        assertJsonRefused(splitTokenizerJson("\"Isolated\"", "false", "{\"Regex\": \"(a\"}", "false", "null"),
                "pre_tokenizer.pretokenizers[0].pattern.Regex", "not a valid regex");
        assertJsonRefused(splitTokenizerJson("\"Isolated\"", "false", "{\"Glob\": \"*\"}", "false", "null"),
                "pre_tokenizer.pretokenizers[0].pattern", "Glob");
        assertJsonRefused(splitTokenizerJson("\"Isolated\"", "false", "{\"Regex\": \"\\\\s+\"}", "true", "null"),
                "pre_tokenizer.pretokenizers[1].use_regex");
        Path oneStep = write("one-step.json", "{\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\":"
                + " [{\"type\": \"ByteLevel\"}]}, \"model\": {}}");
        assertJsonRefused(oneStep, "pre_tokenizer.pretokenizers", "[Split, ByteLevel]");
    }

    @Test
    void postProcessorTemplatesThatCannotBeUsedAreNamed() throws IOException {
        String bos = "{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}}";
        String a = "{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}";
        String known = "\"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [3], \"tokens\": [\"<s>\"]}}";
        assertJsonRefused(splitTokenizerJson("\"Isolated\"", "false", "{\"Regex\": \"\\\\s+\"}", "false",
                        "{\"type\": \"TemplateProcessing\", \"single\": [" + bos + ", " + a + "], \"special_tokens\": {}}"),
                "post_processor.single[0]", "'<s>' is not in post_processor.special_tokens");
        assertJsonRefused(splitTokenizerJson("\"Isolated\"", "false", "{\"Regex\": \"\\\\s+\"}", "false",
                        "{\"type\": \"Sequence\", \"processors\": [{\"type\": \"ByteLevel\"},"
                                + " {\"type\": \"TemplateProcessing\", \"single\": [" + bos + "], " + known + "}]}"),
                "post_processor.processors[1].single", "no {\"Sequence\"");
        assertJsonRefused(splitTokenizerJson("\"Isolated\"", "false", "{\"Regex\": \"\\\\s+\"}", "false",
                        "{\"type\": \"TemplateProcessing\", \"single\": [" + bos + ", " + a + "],"
                                + " \"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [99]}}}"),
                "post_processor.special_tokens['<s>'].ids[0] is 99", "neither in model.vocab nor in added_tokens");
        assertJsonRefused(splitTokenizerJson("\"Isolated\"", "false", "{\"Regex\": \"\\\\s+\"}", "false",
                "{\"type\": \"BertProcessing\"}"), "post_processor", "BertProcessing");
    }

    @Test
    void tokenizerConfigNamingAnUnknownBosTokenNamesTheConfigFile() throws IOException {
        Path model = Files.createDirectory(dir.resolve("model"));
        Files.copy(splitTokenizerJson("\"Isolated\"", "false", "{\"Regex\": \"\\\\s+\"}", "false", "null"),
                model.resolve("tokenizer.json"));
        Path config = Files.writeString(model.resolve("tokenizer_config.json"), "{\"bos_token\": \"<|nope|>\"}");
        MalformedTokenizerFileException e = assertThrows(MalformedTokenizerFileException.class,
                () -> BytePairTokenizer.fromModelDirectory(model));
        assertNames(e, config, "bos_token", "'<|nope|>'", "not a token");
        Files.writeString(config, "{\"eos_token\": {\"text\": \"x\"}}");
        e = assertThrows(MalformedTokenizerFileException.class, () -> BytePairTokenizer.fromModelDirectory(model));
        assertNames(e, config, "eos_token.content", "expected a string");
    }

    /** A Llama-3-kind tokenizer.json: Sequence[Split, ByteLevel] pre-tokenizer, vocabulary "a" "b" "ab" "<s>". */
    private Path splitTokenizerJson(String behavior, String invert, String pattern, String byteLevelRegex,
                                    String postProcessor) throws IOException {
        String content = "{\"added_tokens\": [{\"id\": 3, \"content\": \"<s>\", \"special\": true}],"
                + " \"normalizer\": null, \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": ["
                + "{\"type\": \"Split\", \"pattern\": " + pattern + ", \"behavior\": " + behavior + ", \"invert\": "
                + invert + "}, {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": "
                + byteLevelRegex + "}]}, \"post_processor\": " + postProcessor + ", \"decoder\": {\"type\": \"ByteLevel\"},"
                + " \"model\": {\"type\": \"BPE\", \"ignore_merges\": true,"
                + " \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [[\"a\", \"b\"]]}}";
        return write("split-" + Integer.toHexString(content.hashCode()) + ".json", content);
    }

    private Path tokenizerJson(String type, String vocab, String merges, String added, String modelExtra)
            throws IOException {
        return write("tokenizer-" + Integer.toHexString((type + vocab + merges + added + modelExtra).hashCode())
                + ".json", "{\"added_tokens\": " + added + ", \"normalizer\": null,"
                + " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true},"
                + " \"decoder\": {\"type\": \"ByteLevel\"},"
                + " \"model\": {\"type\": " + type + ", \"vocab\": " + vocab + ", \"merges\": " + merges + modelExtra
                + "}}");
    }

    private Path write(String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content, StandardCharsets.UTF_8);
    }

    private static void assertGpt2Refused(Path encoder, Path bpe, Path culprit, String... fragments) {
        MalformedTokenizerFileException e = assertThrows(MalformedTokenizerFileException.class,
                () -> BytePairTokenizer.fromGpt2Files(encoder, bpe));
        assertNames(e, culprit, fragments);
    }

    private static void assertJsonRefused(Path file, String... fragments) {
        MalformedTokenizerFileException e = assertThrows(MalformedTokenizerFileException.class,
                () -> BytePairTokenizer.fromTokenizerJson(file));
        assertNames(e, file, fragments);
    }

    private static void assertNames(MalformedTokenizerFileException e, Path file, String... fragments) {
        assertEquals(file, e.file());
        assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
        for (String fragment : fragments) {
            assertTrue(e.getMessage().contains(fragment), "'" + fragment + "' missing from: " + e.getMessage());
        }
    }
}
