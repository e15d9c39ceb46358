package dev.curvature.transformer.data;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.curvature.transformer.tokenizer.Tokenizer;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A training or evaluation corpus read from disk: a plain text file (one document), or JSONL with one
 * {@code {"text": ...}} object per line (one document each; blank lines skipped). Documents are tokenized and
 * concatenated, with {@code separator} ids (e.g. GPT-2's end-of-text) between them.
 */
public final class TextCorpus {
    /** Strict JSON: a repeated key or a second value on the line is an error, not silently one of the two. */
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    /** The longest JSONL line read (characters): one document; longer lines are refused before they are held. */
    public static final int MAX_LINE_CHARS = 1 << 26;

    private final Path file;
    private final List<String> documents;

    private TextCorpus(Path file, List<String> documents) {
        this.file = file;
        this.documents = List.copyOf(documents);
    }

    /** The largest corpus file read whole (its tokens must fit one int array). */
    public static final long MAX_BYTES = 1L << 31;

    /** Reads {@code file}: JSONL when its name ends in .jsonl (any case), plain UTF-8 text otherwise. */
    public static TextCorpus read(Path file) throws IOException {
        InputFiles.requireRegular(file, MAX_BYTES);
        var decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        List<String> documents = new ArrayList<>();
        boolean jsonl = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".jsonl");
        try (BufferedReader reader = new BufferedReader(new java.io.InputStreamReader(Files.newInputStream(file),
                decoder))) {
            if (!jsonl) {
                StringBuilder all = new StringBuilder();
                char[] buffer = new char[1 << 16];
                for (int n; (n = reader.read(buffer)) > 0; ) {
                    all.append(buffer, 0, n);
                }
                documents.add(all.toString());
            } else {
                String line;
                int number = 0;
                while ((line = readLine(file, reader, number + 1)) != null) {
                    number++;
                    if (line.isBlank()) {
                        continue;
                    }
                    documents.add(textOf(file, number, line));
                }
            }
        } catch (CharacterCodingException e) {
            throw new IOException(file + ": not valid UTF-8 (" + e.getMessage() + ")", e);
        }
        if (documents.isEmpty()) {
            throw new IOException(file + ": holds no documents");
        }
        return new TextCorpus(file, documents);
    }

    /** One line without its terminator (\n, \r or \r\n), null at the end; a line over the cap is an error. */
    private static String readLine(Path file, BufferedReader reader, int number) throws IOException {
        StringBuilder line = new StringBuilder();
        for (int c; (c = reader.read()) >= 0; ) {
            if (c == '\n') {
                return line.toString();
            }
            if (c == '\r') {
                reader.mark(1);
                if (reader.read() != '\n') {
                    reader.reset();
                }
                return line.toString();
            }
            if (line.length() == MAX_LINE_CHARS) {
                throw new IOException(file + ": line " + number + " is longer than " + MAX_LINE_CHARS
                        + " characters; JSONL holds one document per line");
            }
            line.append((char) c);
        }
        return line.isEmpty() ? null : line.toString();
    }

    private static String textOf(Path file, int line, String json) throws IOException {
        JsonNode node;
        try {
            node = JSON.readTree(json);
        } catch (JacksonException e) {
            throw new IOException(file + ": line " + line + " is not valid JSON (one object per line): "
                    + e.getOriginalMessage(), e);
        }
        if (node == null || !node.isObject()) {
            throw new IOException(file + ": line " + line + " is not a JSON object {\"text\": ...}");
        }
        JsonNode text = node.get("text");
        if (text == null || !text.isTextual()) {
            throw new IOException(file + ": line " + line + " has no string field \"text\"");
        }
        return text.asText();
    }

    public List<String> documents() {
        return documents;
    }

    public Path file() {
        return file;
    }

    /** All documents tokenized and concatenated, {@code separator} ids between consecutive documents. */
    public int[] tokens(Tokenizer tokenizer, int... separator) {
        List<int[]> parts = new ArrayList<>();
        long total = 0;
        for (int i = 0; i < documents.size(); i++) {
            if (i > 0 && separator.length > 0) {
                parts.add(separator);
                total += separator.length;
            }
            int[] ids = tokenizer.encode(documents.get(i));
            parts.add(ids);
            total += ids.length;
        }
        if (total > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException(file + ": " + total + " tokens do not fit one array");
        }
        int[] out = new int[(int) total];
        int at = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }
}
