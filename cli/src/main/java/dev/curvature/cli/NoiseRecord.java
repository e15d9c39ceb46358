package dev.curvature.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.curvature.transformer.data.LabelNoise;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What vit-demo records of its label noise in {@code noise.json} (rate, seed, images used, flipped indices), and
 * what score reads back to rebuild and check the same noise: one writer and one reader.
 */
record NoiseRecord(double rate, long seed, int images, int[] flipped) {
    /** The record of {@code noise}, applied to the first {@code images} training images. */
    static NoiseRecord of(LabelNoise noise, int images) {
        return new NoiseRecord(noise.rate(), noise.seed(), images, noise.flipped());
    }

    /** Writes it as JSON to {@code file}, keys in a fixed order. */
    void write(Path file) throws IOException {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("rate", rate);
        json.put("seed", seed);
        json.put("images", images);
        json.put("flipped", flipped);
        Files.writeString(file, Json.write(json) + "\n");
    }

    /** Reads {@code file}; a missing file or field is an error naming it. */
    static NoiseRecord read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("--noise: " + file + " not found (vit-demo writes noise.json "
                    + "beside its model directory; pass --noise FILE)");
        }
        JsonNode root = new ObjectMapper().readTree(Files.readAllBytes(file));
        for (String key : List.of("rate", "seed", "images", "flipped")) {
            if (root == null || !root.has(key)) {
                throw new IllegalArgumentException(file + ": no \"" + key + "\" (expected vit-demo's noise.json)");
            }
        }
        int[] flipped = new int[root.get("flipped").size()];
        for (int i = 0; i < flipped.length; i++) {
            flipped[i] = root.get("flipped").get(i).asInt();
        }
        return new NoiseRecord(root.get("rate").asDouble(), root.get("seed").asLong(), root.get("images").asInt(),
                flipped);
    }
}
