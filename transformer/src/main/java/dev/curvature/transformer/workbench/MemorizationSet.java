package dev.curvature.transformer.workbench;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Memorization eval sets as JSONL: one {@code {"prompt": ..., "suffix": ..., "source": ..., "id": ...}} object
 * per line, in that key order, UTF-8, each line ending in '\n'.
 */
public final class MemorizationSet {
    private MemorizationSet() {
    }

    /** Reads a JSONL eval set; blank lines are skipped; a bad line is an IOException naming file and line. */
    public static List<MemorizationSample> read(Path jsonl) throws IOException {
        return JsonlEvalSet.read(jsonl, node -> new MemorizationSample(JsonlEvalSet.text(node, "prompt"),
                JsonlEvalSet.text(node, "suffix"),
                MemorizationSample.Source.ofJsonName(JsonlEvalSet.text(node, "source")),
                JsonlEvalSet.text(node, "id")));
    }

    /** The JSONL text of {@code samples}, as {@link #read} reads it. */
    public static String toJsonl(List<MemorizationSample> samples) {
        StringBuilder out = new StringBuilder();
        for (MemorizationSample s : samples) {
            ObjectNode node = JsonlEvalSet.JSON.createObjectNode();
            node.put("prompt", s.prompt());
            node.put("suffix", s.suffix());
            node.put("source", s.source().jsonName());
            node.put("id", s.id());
            out.append(node).append('\n');
        }
        return out.toString();
    }
}
