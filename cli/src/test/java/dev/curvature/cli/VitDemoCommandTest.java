package dev.curvature.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * vit-demo end to end on a tiny setting (300 Fashion-MNIST images, 10 steps): the run folder, the noise record (the
 * reference: 10 % of 300 = 30 flipped indices) and a report with the unedited model and the three edits.
 */
class VitDemoCommandTest {

    @Test
    void aTinyRunWritesItsModelNoiseRecordAndTable(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("run");
        JsonNode report = new ObjectMapper().readTree(CommandRun.stdout("vit-demo", "--train-images", "300",
                "--steps", "10", "--width", "16", "--layers", "1", "--heads", "2", "--batch", "32", "--out",
                out.toString(), "--threads", "2", "--json"));
        assertEquals(300, report.get("trainImages").asInt());
        assertEquals(30, report.get("flipped").asInt());
        assertEquals(300, report.get("factorRows").asLong(), "one CLS row per training image");
        assertEquals(3, report.get("variants").size(), "K-FAC, SVD and random at rho 0.75");
        double memorized = report.get("baseline").get("memorized").asDouble();
        assertTrue(memorized >= 0 && memorized <= 1, report.get("baseline").toString());
        JsonNode noise = new ObjectMapper().readTree(Files.readString(out.resolve("noise.json")));
        assertEquals(30, noise.get("flipped").size());
        assertTrue(Files.exists(out.resolve("model/model.safetensors")) && Files.exists(out.resolve("table.txt")));
        assertTrue(Files.readString(out.resolve("table.txt")).contains("first+last MLP   K-FAC"));
        // --snapshots 5 of 10 steps: models after steps 2, 4, 6 and 8, beside the final one
        for (int step : new int[]{2, 4, 6, 8}) {
            assertTrue(Files.exists(out.resolve(String.format("checkpoints/step-%06d/model.safetensors", step))),
                    "snapshot at step " + step);
        }
        try (var list = Files.list(out.resolve("checkpoints"))) {
            assertEquals(4, list.count());
        }
        // the cumulative sample losses count every sample the 10 steps of 32 read
        var losses = dev.curvature.transformer.train.SampleLosses.read(out.resolve("model").resolve(
                dev.curvature.transformer.train.SampleLosses.FILE), 300);
        assertEquals(320.0, java.util.Arrays.stream(losses.steps()).sum());
    }
}
