package dev.curvature.transformer.workbench;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The reading side shared by the workbench's JSONL eval sets (memorization samples, task samples): one JSON object
 * per line, UTF-8, blank lines skipped. Strict: a line holding more than one value or a repeated key is refused, and
 * every error is an IOException naming the file and the line.
 */
final class JsonlEvalSet {
    /** Writes lines; the strict reader is only for reading. */
    static final ObjectMapper JSON = new ObjectMapper();
    private static final ObjectMapper STRICT = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

    /** One sample from one line's object; IllegalArgumentException for a missing or wrong field. */
    interface LineParser<T> {
        T parse(JsonNode object);
    }

    private JsonlEvalSet() {
    }

    static <T> List<T> read(Path jsonl, LineParser<T> parser) throws IOException {
        List<T> samples = new ArrayList<>();
        int number = 0;
        for (String line : Files.readAllLines(jsonl, StandardCharsets.UTF_8)) {
            number++;
            if (line.isBlank()) {
                continue;
            }
            try {
                JsonNode node = STRICT.readTree(line);
                if (node == null || !node.isObject()) {
                    throw new IllegalArgumentException("not a JSON object");
                }
                samples.add(parser.parse(node));
            } catch (JacksonException | IllegalArgumentException e) {
                throw new IOException(jsonl + ": line " + number + ": " + e.getMessage(), e);
            }
        }
        return List.copyOf(samples);
    }

    /** The string field {@code name} of {@code object}. */
    static String text(JsonNode object, String name) {
        JsonNode value = object.get(name);
        if (value == null || !value.isTextual()) {
            throw new IllegalArgumentException("no string field \"" + name + "\"");
        }
        return value.asText();
    }
}
