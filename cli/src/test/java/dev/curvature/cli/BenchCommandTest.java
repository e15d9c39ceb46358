package dev.curvature.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.ProfilingBackend;
import dev.curvature.kfac.CollectionThroughput;
import dev.curvature.kfac.LayerSelection;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
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
        assertNull(report.get("pytorchHooks"), "no quoted external figure");
        // SGEMM measured in the run at each distinct linear shape (2 blocks share theirs) and the LM head
        JsonNode sgemm = report.get("sgemm");
        JsonNode shapes = sgemm.get("shapes");
        assertEquals(5, shapes.size(), sgemm.toString());
        assertEquals("lm head", shapes.get(4).get("role").asText());
        assertEquals(32, shapes.get(4).get("m").asInt());
        assertEquals(64, shapes.get(4).get("n").asInt());
        assertEquals(32, shapes.get(4).get("k").asInt());
        assertEquals(2, shapes.get(0).get("perStep").asInt(), "c_attn of both blocks");
        double rate = sgemm.get("gflopPerSecond").asDouble();
        assertTrue(rate > 0, sgemm.toString());
        assertEquals(Math.max(report.get("sgemmBeforeSteps").asDouble(), report.get("sgemmAfterSteps").asDouble()),
                rate, 0.0, "the faster of the two measurements");
        assertEquals(report.get("plain").get("gflopPerSecond").asDouble() / rate,
                report.get("plainShareOfSgemm").asDouble(), 1e-12);
        assertEquals(report.get("collection").get("gflopPerSecond").asDouble() / rate,
                report.get("collectionShareOfSgemm").asDouble(), 1e-12);
    }

    @Test
    void benchHelpAndTableQuoteNoExternalFigure() {
        StringWriter out = new StringWriter();
        CurvatureCommand.commandLine().setOut(new PrintWriter(out)).execute("bench", "--help");
        assertFalse(out.toString().contains("47"), out.toString());
        assertFalse(out.toString().contains("external"), out.toString());
        assertTrue(out.toString().contains("SGEMM"), out.toString());
    }

    @Test
    void profileTableSplitsPlainAndCollectionStepsByOperation() {
        CollectionThroughput.Options options = new CollectionThroughput.Options(1, 32, 2, 64, 2, 16, 0, 1,
                CovariancePrecision.F32_WITH_F64_SUMS);
        try (CpuBackend cpu = new CpuBackend(1)) {
            ProfilingBackend profiler = new ProfilingBackend(cpu);
            CollectionThroughput.Report report = CollectionThroughput.measure(profiler.backend(), options,
                    options.config(), LayerSelection.parse(CollectionThroughput.COLLECTED_LAYERS), true, (done, total) -> { },
                    profiler::section);
            String table = BenchCommand.profileTable(profiler, report);
            int plain = table.indexOf("  plain:");
            int collection = table.indexOf("  collection:");
            assertTrue(plain >= 0 && collection > plain, table);
            // the LM head's forward, N × V × C = 32 × 64 × 32, in both kinds of step
            String head = "gemm(f32) NT m×n×k 32×64×32";
            assertTrue(table.indexOf(head, plain) < collection && table.indexOf(head, collection) > 0, table);
            // SYRKs only where factors are collected: c_fc's A (32) and G (128), c_proj's A (128) and G (32)
            assertFalse(table.substring(plain, collection).contains("syrk"), table);
            assertTrue(table.substring(collection).contains("syrk(f32) n×k 128×30"), table);
        }
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
