package dev.curvature.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.gpt2.Gpt2Checkpoints;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.train.ModelInitializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code probe} on a small random byte-level GPT-2 (1 block, d = 16), MLP of block 0 selected. References: the
 * selected parameter count from the shapes (c_fc 64 × 16 + 64, c_proj 16 × 64 + 16), the closed form recomputed from
 * the reported a, c, B, the ratio recomputed from the reported estimates, and the PNG files' existence.
 */
class ProbeCommandTest {

    private static Path tinyModel(Path dir) throws Exception {
        Path modelDir = dir.resolve("model");
        try (CpuBackend backend = new CpuBackend(2);
             ParameterSet weights = ParameterSet.allocate(backend, Gpt2Config.of(1, 2, 16, 256, 32), DType.F32)) {
            ModelInitializer.initialize(weights, 3);
            Gpt2Checkpoints.save(new Gpt2Model(backend, weights), modelDir, DType.F32, Map.of());
        }
        return modelDir;
    }

    @Test
    void probeReportsEveryEstimatorStageTimingsAndPlots(@TempDir Path dir) throws Exception {
        Path modelDir = tinyModel(dir);
        Path corpus = dir.resolve("corpus.txt");
        Files.writeString(corpus, "In the beginning God created the heaven and the earth. And the earth was without "
                .repeat(6));
        Path plots = dir.resolve("plots");
        JsonNode out = new ObjectMapper().readTree(CommandRun.stdout("probe", "--model", modelDir.toString(),
                "--corpus", corpus.toString(), "--params", "h.0.mlp.*", "--k", "2,4,8", "--sigma", "1e-3,1e-2",
                "--dim", "2", "--samples", "4", "--time", "16", "--seed", "1,2", "--next", "1", "--plots", plots.toString(),
                "--json"));
        assertEquals(64 * 16 + 64 + 16 * 64 + 16, out.get("parameterCount").asLong());
        assertEquals(6, out.get("runs").size(), "3 k × 2 seeds");
        for (JsonNode run : out.get("runs")) {
            assertEquals(2, run.get("eigenvalues").size());
            assertTrue(run.get("eigenvalues").get(0).asDouble() >= run.get("eigenvalues").get(1).asDouble());
            assertTrue(run.get("timings").get("subspaceSeconds").asDouble() > 0);
            JsonNode q = run.get("quadratic");
            double a = q.get("a").asDouble();
            double[] c = {q.get("c").get(0).asDouble(), q.get("c").get(1).asDouble()};
            double[] b = new double[4];
            for (int i = 0; i < 4; i++) {
                b[i] = q.get("b").get(i).asDouble();
            }
            assertEquals(b[1], b[2], 0.0, "B symmetric");
            for (JsonNode s : run.get("sigmas")) {
                double s2 = Math.pow(s.get("sigma").asDouble(), 2);
                double tr = b[0] + b[3];
                double tr2 = b[0] * b[0] + 2 * b[1] * b[1] + b[3] * b[3];
                double closed = a * a + a * s2 * tr + s2 * (c[0] * c[0] + c[1] * c[1]) + s2 * s2 / 4 * (2 * tr2 + tr * tr);
                assertEquals(closed, s.get("closedForm").get("value").asDouble(), 1e-12 * closed, s.toString());
                assertEquals(s.get("direct").get("value").asDouble() / s.get("fullSpace").get("value").asDouble(),
                        s.get("subspaceRatio").asDouble(), 1e-12, s.toString());
                assertTrue(s.get("direct").get("seconds").asDouble() > 0);
            }
        }
        assertEquals(12, out.get("fits").size(), "2 σ × (full, direct, closed) × (all points, means)");
        // the "direct mean" fit at σ = 1e-3: OLS through log of the mean over the two seeds at k = 2, 4, 8
        double[] x = new double[3];
        double[] y = new double[3];
        for (JsonNode run : out.get("runs")) {
            assertEquals(1, run.get("nextWindows").asInt());
            int g = Integer.numberOfTrailingZeros(run.get("k").asInt()) - 1;
            x[g] = Math.log(run.get("k").asInt());
            y[g] += run.get("sigmas").get(0).get("direct").get("value").asDouble() / 2;
        }
        for (int g = 0; g < 3; g++) {
            y[g] = Math.log(y[g]);
        }
        double mx = (x[0] + x[1] + x[2]) / 3;
        double my = (y[0] + y[1] + y[2]) / 3;
        double slope = ((x[0] - mx) * (y[0] - my) + (x[1] - mx) * (y[1] - my) + (x[2] - mx) * (y[2] - my))
                / ((x[0] - mx) * (x[0] - mx) + (x[1] - mx) * (x[1] - mx) + (x[2] - mx) * (x[2] - mx));
        boolean found = false;
        for (JsonNode f : out.get("fits")) {
            if (f.get("estimator").asText().equals("direct mean") && f.get("sigma").asDouble() == 1e-3) {
                assertEquals(slope, f.get("slope").asDouble(), 1e-10);
                assertEquals(3, f.get("points").asInt());
                found = true;
            }
        }
        assertTrue(found, "direct mean fit at σ = 1e-3");
        assertTrue(Files.size(plots.resolve("probe-delta-vs-k.png")) > 0);
        assertTrue(Files.size(plots.resolve("probe-ratio-vs-sigma.png")) > 0);
    }

    @Test
    void unknownParameterPatternIsNamed(@TempDir Path dir) throws Exception {
        Path modelDir = tinyModel(dir);
        Path corpus = dir.resolve("corpus.txt");
        Files.writeString(corpus, "abcdefghijklmnopqrstuvwxyz".repeat(10));
        StringWriter err = new StringWriter();
        int code = CurvatureCommand.commandLine().setErr(new PrintWriter(err)).execute("probe", "--model",
                modelDir.toString(), "--corpus", corpus.toString(), "--params", "h.9.mlp.*");
        assertEquals(1, code);
        assertTrue(err.toString().contains("'h.9.mlp.*'"), err.toString());
        code = CurvatureCommand.commandLine().setErr(new PrintWriter(err)).execute("probe", "--model",
                modelDir.toString(), "--corpus", corpus.toString(), "--k", "100", "--time", "16");
        assertEquals(1, code);
        assertTrue(err.toString().contains("--k 100 with --next 1 needs 101 windows"), err.toString());
    }
}
