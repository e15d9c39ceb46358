package dev.curvature.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code curvature bench} on a tiny shape: it runs, and its JSON has the rates and ratios. References: the layer
 * count (2 blocks × 2 MLP projections), the position count B·(T − 1), the flop count worked out by hand in
 * {@code CollectionStepFlopsTest}. No timing is asserted beyond being positive.
 */
class BenchCommandTest {

    @Test
    void benchOnATinyShapeReportsRatesAndRatiosAsJson() throws Exception {
        JsonNode report = new ObjectMapper().readTree(KfacCommandsTest.run("bench", "--layers", "2", "--width", "32",
                "--heads", "2", "--vocab", "64", "--batch", "2", "--time", "16", "--warmup", "0", "--steps", "1",
                "--threads", "2", "--json"));
        assertEquals(4, report.get("collectedLayers").size(), report.toString());
        assertEquals(32, report.get("tokensPerStep").asLong());
        assertEquals(30, report.get("countedPositionsPerStep").asLong());
        assertEquals(1024, report.get("model").get("nPositions").asInt());
        assertEquals(2_108_160, report.get("flops").get("covariance").asDouble());
        for (String kind : new String[]{"plain", "collection"}) {
            JsonNode m = report.get(kind);
            assertEquals(1, m.get("steps").asInt(), kind);
            assertTrue(m.get("tokensPerSecond").asDouble() > 0, kind + ": " + m);
            assertTrue(m.get("gflopPerSecond").asDouble() > 0, kind + ": " + m);
        }
        assertEquals(5_909_248, report.get("collection").get("flopsPerStep").asDouble());   // no weight gradients
        assertEquals(5_505_024, report.get("plain").get("flopsPerStep").asDouble());
        assertTrue(report.get("overheadRatio").asDouble() > 0, report.toString());
        JsonNode external = report.get("pytorchHooks");
        assertEquals(47.0, external.get("tokensPerSecond").asDouble());
        assertEquals(1.5, external.get("targetRatio").asDouble());
        assertEquals(report.get("collection").get("tokensPerSecond").asDouble() / 47.0,
                external.get("ratio").asDouble(), 1e-12);
        assertTrue(external.get("description").asText().contains("not measured"), external.toString());
    }

    @Test
    void widthNotDivisibleByHeadsIsAUsageErrorNamingBoth() {
        StringWriter err = new StringWriter();
        int code = CurvatureCommand.commandLine().setErr(new PrintWriter(err)).execute("bench", "--width", "100",
                "--heads", "3");
        assertEquals(2, code);
        assertTrue(err.toString().contains("width 100 is not divisible by heads 3"), err.toString());
    }
}
