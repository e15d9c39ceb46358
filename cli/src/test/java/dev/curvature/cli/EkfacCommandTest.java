package dev.curvature.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * collect --ekfac-moments → spectrum → ekfac → edit --curvature ekfac on a small random byte-level GPT-2. References:
 * the sample count implied by the windowing (one per window), the ρ = 1 identity, the keep-mass contract
 * (Σ_S Λ / ΣΛ ≥ ρ), and the digest check refusing corrected eigenvalues of another eigenbasis.
 */
class EkfacCommandTest {
    @Test
    void collectEkfacAndEditWithCorrectedEigenvaluesFromTheCommandLine(@TempDir Path dir) throws Exception {
        Path modelDir = TinyGpt2.write(dir.resolve("model"));
        Path corpus = dir.resolve("corpus.txt");
        Files.writeString(corpus, "And God said, Let there be light: and there was light. ".repeat(12)); // 660 bytes
        Path factors = dir.resolve("factors.safetensors");
        Path bases = dir.resolve("bases.safetensors");
        Path lambda = dir.resolve("ekfac.safetensors");
        ObjectMapper json = new ObjectMapper();
        CommandRun.stdout("collect", "--model", modelDir.toString(), "--corpus", corpus.toString(), "--out",
                factors.toString(), "--time", "32", "--batch", "4", "--labels", "SAMPLED", "--ekfac-moments");
        CommandRun.stdout("spectrum", "--factors", factors.toString(), "--eigenbases", bases.toString());
        CommandRun.Output pass = CommandRun.capture("ekfac", "--model", modelDir.toString(), "--eigenbases",
                bases.toString(), "--corpus", corpus.toString(), "--out", lambda.toString(), "--moments",
                factors.toString(), "--json");
        JsonNode report = json.readTree(pass.stdout());
        // 660 bytes → 20 windows of 32 (the factors' window and batch are the defaults): one sample per window
        JsonNode description = report.get("description");
        assertEquals("SEQUENCE", description.get("granularity").asText());
        assertEquals("SAMPLED", description.get("labels").asText());
        assertEquals(20 * 32, description.get("tokens").asLong());
        assertEquals(4, description.get("layers").size());
        for (JsonNode layer : description.get("layers")) {
            assertEquals(20, layer.get("samples").asLong(), layer.toString());
        }
        assertEquals(4, report.get("onePassAgreement").size());
        for (JsonNode row : report.get("onePassAgreement")) {
            double overlap = row.get("onePass").get("topOverlap").asDouble();
            assertTrue(overlap > 0 && overlap <= 1, row.toString());
        }
        assertTrue(pass.stderr().contains("one-pass approximation"), pass.stderr());

        Path untouched = dir.resolve("untouched");
        CommandRun.stdout("edit", "--model", modelDir.toString(), "--eigenbases", bases.toString(), "--curvature",
                "ekfac", "--ekfac", lambda.toString(), "--out", untouched.toString(), "--rho", "1");
        assertEquals(0, KfacCommandsTest.weightsDiffer(modelDir, untouched), "ρ = 1 changes nothing");
        Path edited = dir.resolve("edited");
        JsonNode edit = json.readTree(CommandRun.stdout("edit", "--model", modelDir.toString(), "--eigenbases",
                bases.toString(), "--curvature", "ekfac", "--ekfac", lambda.toString(), "--out", edited.toString(),
                "--rho", "0.8", "--layers", "h.1.mlp.*", "--json"));
        assertEquals(2, edit.get("layers").size());
        for (JsonNode layer : edit.get("layers")) {
            assertEquals("ekfac KEEP", layer.get("mode").asText());
            assertTrue(layer.get("edit").get("massKept").asDouble() >= 0.8, layer.toString());
            assertTrue(layer.get("edit").get("relativeChange").asDouble() > 0, layer.toString());
        }

        // eigenvalues of another eigenbasis (factors with gold labels) are refused, naming the layer
        Path gold = dir.resolve("gold.safetensors");
        CommandRun.stdout("collect", "--model", modelDir.toString(), "--corpus", corpus.toString(), "--out",
                gold.toString(), "--time", "32", "--batch", "4", "--labels", "GOLD");
        StringWriter err = new StringWriter();
        int refused = CurvatureCommand.commandLine().setErr(new PrintWriter(err)).execute("edit", "--model",
                modelDir.toString(), "--factors", gold.toString(), "--curvature", "ekfac", "--ekfac",
                lambda.toString(), "--out", dir.resolve("refused").toString(), "--rho", "0.8");
        assertEquals(1, refused);
        assertTrue(err.toString().contains("another eigenbasis"), err.toString());
        assertTrue(Files.notExists(dir.resolve("refused")), "nothing written");
        int missing = CurvatureCommand.commandLine().setErr(new PrintWriter(new StringWriter())).execute("edit",
                "--model", modelDir.toString(), "--eigenbases", bases.toString(), "--curvature", "ekfac", "--out",
                dir.resolve("missing").toString());
        assertEquals(1, missing, "--curvature ekfac without --ekfac is refused");
    }

    @Test
    void theDemosEkfacRowKeepsTheKfacFractionFromItsOwnSecondPass(@TempDir Path dir) throws Exception {
        Path run = dir.resolve("run");
        JsonNode report = new ObjectMapper().readTree(CommandRun.stdout("demo", "--out", run.toString(),
                "--layer-sets", "last fc=h.3.mlp.c_fc", "--rho", "0.9", "--methods", "KFAC,EKFAC",
                "--factor-tokens", "2048", "--eval-tokens", "2048", "--threads", "1", "--json"));
        JsonNode variants = report.get("variants");
        assertEquals(2, variants.size());
        assertEquals("EKFAC", variants.get(1).get("method").asText());
        double kept = variants.get(0).get("keptFraction").asDouble();
        assertTrue(kept > 0 && kept < 1, "kept fraction " + kept);
        assertEquals(kept, variants.get(1).get("keptFraction").asDouble(), 0.0, "EK-FAC keeps as many components");
        assertTrue(Files.size(run.resolve("ekfac.safetensors")) > 0);
        assertTrue(Files.readString(run.resolve("table.txt")).contains("EK-FAC"));
    }
}
