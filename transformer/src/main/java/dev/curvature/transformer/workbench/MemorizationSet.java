package dev.curvature.transformer.workbench;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Memorization eval sets as JSONL: one {@code {"prompt": ..., "suffix": ..., "source": ..., "id": ...}} object
 * per line, in that key order, UTF-8, each line ending in '\n'.
 */
public final class MemorizationSet {
    private static final ObjectMapper JSON = new ObjectMapper();

    private MemorizationSet() {
    }

    /** Reads a JSONL eval set; blank lines are skipped; a bad line is an IOException naming file and line. */
    public static List<MemorizationSample> read(Path jsonl) throws IOException {
        List<MemorizationSample> samples = new ArrayList<>();
        int number = 0;
        for (String line : Files.readAllLines(jsonl, StandardCharsets.UTF_8)) {
            number++;
            if (line.isBlank()) {
                continue;
            }
            try {
                JsonNode node = JSON.readTree(line);
                samples.add(new MemorizationSample(field(node, "prompt"), field(node, "suffix"),
                        MemorizationSample.Source.ofJsonName(field(node, "source")), field(node, "id")));
            } catch (JacksonException | IllegalArgumentException e) {
                throw new IOException(jsonl + ": line " + number + ": " + e.getMessage(), e);
            }
        }
        return List.copyOf(samples);
    }

    /** The JSONL text of {@code samples}, as {@link #read} reads it. */
    public static String toJsonl(List<MemorizationSample> samples) {
        StringBuilder out = new StringBuilder();
        for (MemorizationSample s : samples) {
            ObjectNode node = JSON.createObjectNode();
            node.put("prompt", s.prompt());
            node.put("suffix", s.suffix());
            node.put("source", s.source().jsonName());
            node.put("id", s.id());
            out.append(node).append('\n');
        }
        return out.toString();
    }

    private static String field(JsonNode node, String name) {
        JsonNode value = node == null ? null : node.get(name);
        if (value == null || !value.isTextual()) {
            throw new IllegalArgumentException("no string field \"" + name + "\"");
        }
        return value.asText();
    }
}
