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
 * BalancedSubnet from the command line on the committed workbench model, shrunk to one step. References: the model's
 * known recitation (8/9 canaries, as WorkbenchModelTest checks), ⌈ratio · p·q⌉ dropped weights per layer of the
 * last block's MLP (512×128 and 128×512), and one loss record per step.
 */
class SubnetCommandTest {
    @Test
    void oneStepOfBalancedSubnetIsMeasuredLikeTheDemo(@TempDir Path dir) throws Exception {
        Path run = dir.resolve("run");
        JsonNode report = new ObjectMapper().readTree(CommandRun.stdout("subnet", "--out", run.toString(), "--ratio",
                "0.01", "--steps", "1", "--retain-batch", "1", "--eval-tokens", "2048", "--threads", "1", "--json"));
        assertEquals(8.0 / 9, report.get("baseline").get("recitation").get("bySource").get("canaries").get("strict").asDouble(), 1e-12);
        assertEquals(2, report.get("layers").size());
        JsonNode only = report.get("runs").get(0);
        assertEquals(1, only.get("history").size());
        for (JsonNode layer : only.get("layers")) {
            assertEquals(512 * 128, layer.get("total").asLong());
            assertEquals((long) Math.ceil(0.01 * 512 * 128), layer.get("dropped").asLong(), layer.toString());
            assertTrue(layer.get("relativeChange").asDouble() > 0, layer.toString());
        }
        double ppl = only.get("evaluation").get("heldout").get("perplexity").get("perplexity").asDouble();
        assertTrue(ppl > 1, "perplexity " + ppl);
        assertTrue(Files.readString(run.resolve("table.txt")).contains("unedited"));
    }
}
