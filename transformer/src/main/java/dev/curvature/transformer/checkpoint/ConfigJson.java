package dev.curvature.transformer.checkpoint;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reading and writing Hugging Face {@code config.json} files: strict JSON (duplicate keys and trailing tokens are
 * errors), typed fields with HF's defaults for absent ones, every error naming the file and the field; written with
 * transformers' layout (two-space indent, "key": value).
 */
public final class ConfigJson {
    static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private ConfigJson() {
    }

    /** The JSON object in {@code configFile}; a missing file is a plain IOException, bad JSON a format error. */
    public static ObjectNode read(Path configFile) throws IOException {
        dev.curvature.transformer.data.InputFiles.requireRegular(configFile, 64L << 20);   // configs are kilobytes
        byte[] bytes = Files.readAllBytes(configFile);
        JsonNode root;
        try {
            root = JSON.readTree(bytes);
        } catch (IOException e) {
            String detail = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
            throw new CheckpointFormatException(configFile, null, "config is not valid JSON: " + detail, e);
        }
        if (root == null || !root.isObject()) {
            throw new CheckpointFormatException(configFile, null, "config is not a JSON object");
        }
        return (ObjectNode) root;
    }

    /** An empty object to fill and write. */
    public static ObjectNode object() {
        return JSON.createObjectNode();
    }

    /** An integer field, {@code absent} when the key is missing (null is not a number: an error). */
    public static int intField(Path file, JsonNode root, String field, int absent) throws CheckpointFormatException {
        JsonNode v = root.get(field);
        return v == null ? absent : toInt(file, field, v);
    }

    /** A required integer field. */
    public static int requiredInt(Path file, JsonNode root, String field) throws CheckpointFormatException {
        JsonNode v = root.get(field);
        if (v == null) {
            throw new CheckpointFormatException(file, null, field + " is missing");
        }
        return toInt(file, field, v);
    }

    private static int toInt(Path file, String field, JsonNode v) throws CheckpointFormatException {
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new CheckpointFormatException(file, null, field + " must be an integer (32-bit), found " + v);
        }
        return v.intValue();
    }

    public static double doubleField(Path file, JsonNode root, String field, double absent)
            throws CheckpointFormatException {
        JsonNode v = root.get(field);
        if (v == null) {
            return absent;
        }
        if (!v.isNumber()) {
            throw new CheckpointFormatException(file, null, field + " must be a number, found " + v);
        }
        return v.doubleValue();
    }

    public static String stringField(Path file, JsonNode root, String field, String absent)
            throws CheckpointFormatException {
        JsonNode v = root.get(field);
        if (v == null) {
            return absent;
        }
        if (!v.isTextual()) {
            throw new CheckpointFormatException(file, null, field + " must be a string, found " + v);
        }
        return v.textValue();
    }

    public static boolean booleanField(Path file, JsonNode root, String field, boolean absent)
            throws CheckpointFormatException {
        JsonNode v = root.get(field);
        if (v == null) {
            return absent;
        }
        if (!v.isBoolean()) {
            throw new CheckpointFormatException(file, null, field + " must be true or false, found " + v);
        }
        return v.booleanValue();
    }

    /** transformers' layout: two-space indent, "key": value, a final newline. */
    public static String toJson(JsonNode node) {
        DefaultPrettyPrinter printer = new DefaultPrettyPrinter()
                .withSeparators(Separators.createDefaultInstance()
                        .withObjectFieldValueSpacing(Separators.Spacing.AFTER))
                .withObjectIndenter(new DefaultIndenter("  ", "\n"));
        try {
            return JSON.writer(printer).writeValueAsString(node) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("serialising a JSON tree cannot fail", e);
        }
    }

    /** Writes {@code json} to {@code configFile}, replacing it atomically. */
    public static void write(Path configFile, String json) throws IOException {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        AtomicFile.write(configFile, channel -> {
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
        });
    }
}
