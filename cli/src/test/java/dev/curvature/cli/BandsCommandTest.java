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
 * collect → bands from the command line on a small random byte-level GPT-2. References: the band sizes implied by
 * the edges (⌊0.1·pq⌋, …, summing to p·q), the positions implied by the inputs (samples' byte lengths; the token
 * cap for clean text), and ratio = memorized mean / clean mean as printed.
 */
class BandsCommandTest {

    @Test
    void bandsReportsEveryLayerAndBandWithConsistentRatios(@TempDir Path dir) throws Exception {
        Path modelDir = dir.resolve("model");
        try (CpuBackend backend = new CpuBackend(2);
             ParameterSet weights = ParameterSet.allocate(backend, Gpt2Config.of(2, 2, 32, 256, 64), DType.F32)) {
            ModelInitializer.initialize(weights, 5);
            Gpt2Checkpoints.save(new Gpt2Model(backend, weights), modelDir, DType.F32, Map.of());
        }
        Path corpus = dir.resolve("corpus.txt");
        Files.writeString(corpus, "In the beginning God created the heaven and the earth. ".repeat(12));
        Path factors = dir.resolve("factors.safetensors");
        KfacCommandsTest.run("collect", "--model", modelDir.toString(), "--corpus", corpus.toString(), "--out",
                factors.toString(), "--time", "32", "--layers", "h.1.mlp.*");
        Path memorized = dir.resolve("canaries.jsonl");
        Files.writeString(memorized, """
                {"prompt":"abc123xyz","suffix":"qq77","source":"canary","id":"canary-00"}
                {"prompt":"0a9b8c7d6e","suffix":"zz","source":"canary","id":"canary-01"}
                """);
        Path clean = dir.resolve("clean.txt");
        Files.writeString(clean, "And the earth was without form, and void; and darkness was upon the face. ".repeat(5));
        JsonNode out = new ObjectMapper().readTree(KfacCommandsTest.run("bands", "--model", modelDir.toString(),
                "--factors", factors.toString(), "--memorized", memorized.toString(), "--clean", clean.toString(),
                "--tokens", "100", "--json"));
        assertEquals(memorized.toString(), out.get("memorized").get(0).asText());
        JsonNode layers = out.get("report").get("layers");
        assertEquals(2, layers.size());
        assertEquals(13, out.get("report").get("cleanWindow").asInt(), "the longest sample: 9 + 4 bytes");
        for (JsonNode layer : layers) {
            assertEquals(13 + 12, layer.get("data").get("positions").asLong());
            assertEquals(100, layer.get("clean").get("positions").asLong());
            boolean fc = layer.get("layer").asText().endsWith("c_fc");
            long pairs = fc ? 128 * 32 : 32 * 128;
            long[] expected = {pairs / 10, pairs / 4 - pairs / 10, pairs / 2 - pairs / 4, pairs - pairs / 2};
            JsonNode ratios = layer.get("ratios");
            assertEquals(4, ratios.size());
            for (int b = 0; b < 4; b++) {
                JsonNode r = ratios.get(b);
                assertEquals(expected[b], r.get("pairs").asLong(), r.toString());
                assertEquals(r.get("dataOutputNorm").asDouble() / r.get("cleanOutputNorm").asDouble(),
                        r.get("outputNormRatio").asDouble(), 1e-15, r.toString());
                assertEquals(r.get("dataProjectionRms").asDouble() / r.get("cleanProjectionRms").asDouble(),
                        r.get("projectionRmsRatio").asDouble(), 1e-15, r.toString());
                assertTrue(r.get("cleanOutputNorm").asDouble() > 0, r.toString());
            }
        }
    }

    @Test
    void badInputsNameTheFileAndTheLayerOrSample(@TempDir Path dir) throws Exception {
        Path modelDir = dir.resolve("model");
        try (CpuBackend backend = new CpuBackend(2);
             ParameterSet weights = ParameterSet.allocate(backend, Gpt2Config.of(1, 2, 32, 256, 16), DType.F32)) {
            ModelInitializer.initialize(weights, 6);
            Gpt2Checkpoints.save(new Gpt2Model(backend, weights), modelDir, DType.F32, Map.of());
        }
        Path corpus = dir.resolve("corpus.txt");
        Files.writeString(corpus, "In the beginning God created the heaven and the earth. ".repeat(4));
        Path factors = dir.resolve("factors.safetensors");
        KfacCommandsTest.run("collect", "--model", modelDir.toString(), "--corpus", corpus.toString(), "--out",
                factors.toString(), "--time", "16");
        Path memorized = dir.resolve("long.jsonl");
        Files.writeString(memorized, "{\"prompt\":\"0123456789\",\"suffix\":\"0123456789\",\"source\":\"canary\","
                + "\"id\":\"canary-07\"}\n");
        String error = fails("bands", "--model", modelDir.toString(), "--factors", factors.toString(), "--memorized",
                memorized.toString(), "--clean", corpus.toString());
        assertTrue(error.contains("long.jsonl: sample canary-07 has 20 tokens"), error);
        Files.writeString(memorized, "{\"prompt\":\"0123\",\"suffix\":\"45\",\"source\":\"canary\",\"id\":\"c\"}\n");
        error = fails("bands", "--model", modelDir.toString(), "--factors", factors.toString(), "--memorized",
                memorized.toString(), "--clean", corpus.toString(), "--layers", "h.9.*");
        assertTrue(error.contains("--layers 'h.9.*' matches none of the layers in " + factors), error);
    }

    private static String fails(String... args) {
        StringWriter err = new StringWriter();
        int code = CurvatureCommand.commandLine().setErr(new PrintWriter(err)).execute(args);
        assertEquals(1, code, String.join(" ", args) + " should fail: " + err);
        return err.toString();
    }
}
