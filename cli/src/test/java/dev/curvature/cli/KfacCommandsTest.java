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
 * collect → merge → spectrum → edit from the command line on a small random byte-level GPT-2. References: the
 * position count implied by the windowing (windows × (T − 1)), the ρ = 1 identity (the edited model equals the
 * original bit for bit) and the keep-mass contract (mass kept ≥ ρ).
 */
class KfacCommandsTest {

    /** Runs the command line, asserts exit status 0, and returns what it printed on stdout. */
    static String run(String... args) {
        return CommandRun.stdout(args);
    }

    @Test
    void collectMergeSpectrumAndEditFromTheCommandLine(@TempDir Path dir) throws Exception {
        Path modelDir = dir.resolve("model");
        try (CpuBackend backend = new CpuBackend(2);
             ParameterSet weights = ParameterSet.allocate(backend, Gpt2Config.of(2, 2, 32, 256, 64), DType.F32)) {
            ModelInitializer.initialize(weights, 3);
            Gpt2Checkpoints.save(new Gpt2Model(backend, weights), modelDir, DType.F32, Map.of());
        }
        Path corpus = dir.resolve("corpus.txt");
        Files.writeString(corpus, "In the beginning God created the heaven and the earth. ".repeat(12)); // 660 bytes
        Path part1 = dir.resolve("part1.safetensors");
        Path part2 = dir.resolve("part2.safetensors");
        ObjectMapper json = new ObjectMapper();
        JsonNode collected = json.readTree(run("collect", "--model", modelDir.toString(), "--corpus", corpus.toString(),
                "--out", part1.toString(), "--time", "32", "--batch", "4", "--threads", "2", "--json"));
        // 660 bytes → 20 whole windows of 32 tokens; the last position of each has no target: 31 counted each
        assertEquals(660, Files.size(corpus));
        for (JsonNode layer : collected.get("description").get("layers")) {
            assertEquals(20 * 31, layer.get("positions").asLong(), layer.toString());
        }
        run("collect", "--model", modelDir.toString(), "--corpus", corpus.toString(), "--out", part2.toString(),
                "--time", "32", "--labels", "SAMPLED", "--max-tokens", "320");
        Path merged = dir.resolve("merged.safetensors");
        // different label modes must not merge: the command reports it and fails
        StringWriter err = new StringWriter();
        int refused = CurvatureCommand.commandLine().setErr(new PrintWriter(err)).execute("merge", part1.toString(),
                part2.toString(), "--out", merged.toString());
        assertEquals(1, refused);
        assertTrue(err.toString().contains("SAMPLED labels"), err.toString());
        run("merge", part1.toString(), part1.toString(), "--out", merged.toString());

        Path png = dir.resolve("spectra.png");
        Path bases = dir.resolve("bases.safetensors");
        JsonNode spectrum = json.readTree(run("spectrum", "--factors", merged.toString(), "--plot", png.toString(),
                "--eigenbases", bases.toString(), "--json"));
        byte[] header = java.util.Arrays.copyOf(Files.readAllBytes(png), 8);
        assertEquals(0, java.util.Arrays.compare(new byte[]{(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}, header),
                "a PNG file");
        assertEquals(4, spectrum.get("layers").size());
        for (JsonNode layer : spectrum.get("layers")) {
            assertTrue(layer.get("A").get("quality").get("residual").asDouble() < 1e-12, layer.toString());
        }

        Path untouched = dir.resolve("untouched");
        run("edit", "--model", modelDir.toString(), "--factors", merged.toString(), "--out", untouched.toString(),
                "--rho", "1");
        assertEquals(0, weightsDiffer(modelDir, untouched), "rho = 1 leaves the weights as they are, bit for bit");

        Path edited = dir.resolve("edited");
        JsonNode report = json.readTree(run("edit", "--model", modelDir.toString(), "--factors", merged.toString(),
                "--out", edited.toString(), "--rho", "0.8", "--layers", "h.1.mlp.*", "--json"));
        assertEquals(2, report.get("layers").size());
        for (JsonNode layer : report.get("layers")) {
            assertTrue(layer.get("edit").get("massKept").asDouble() >= 0.8, layer.toString());
            assertTrue(layer.get("edit").get("relativeChange").asDouble() > 0, layer.toString());
        }
        assertEquals(report, json.readTree(Files.readString(edited.resolve("edit-report.json"))),
                "--json prints the report the edit writes beside the model");
        // the same edit from the stored eigenbases: the same weights, bit for bit
        Path fromBases = dir.resolve("from-bases");
        run("edit", "--model", modelDir.toString(), "--eigenbases", bases.toString(), "--out", fromBases.toString(),
                "--rho", "0.8", "--layers", "h.1.mlp.*");
        assertEquals(0, weightsDiffer(edited, fromBases), "edit from stored eigenbases = edit from factors");
        try (CpuBackend backend = new CpuBackend(1)) {
            Gpt2Checkpoints.load(backend, edited, DType.F32).weights().close();   // the edited model loads
        }
    }

    /** 0 when the two checkpoints hold the same tensors bit for bit (metadata may differ), else 1. */
    static int weightsDiffer(Path a, Path b) throws Exception {
        try (var x = dev.curvature.transformer.checkpoint.SafetensorsFile.open(a.resolve("model.safetensors"));
             var y = dev.curvature.transformer.checkpoint.SafetensorsFile.open(b.resolve("model.safetensors"))) {
            for (String name : x.names()) {
                if (x.tensor(name).segment().mismatch(y.tensor(name).segment()) >= 0) {
                    return 1;
                }
            }
            return 0;
        }
    }
}
