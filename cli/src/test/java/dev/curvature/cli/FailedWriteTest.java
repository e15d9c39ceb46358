package dev.curvature.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A write that fails part-way (issue 17: "on a full disk edit-report.json is left at 0 bytes"; file errors without
 * the file's name): the child runs with every file capped at half the size the output needs, so its write fails
 * inside the largest file. The command must end with one error line naming that file as the user knows it (not a
 * temporary), exit 1, and leave no new file, no temporary, and an existing output whole.
 */
class FailedWriteTest {
    private static void assertOneLineNaming(ChildProcess child, String file) {
        List<String> errors = child.stderr().lines().filter(l -> l.startsWith("curvature: ")).toList();
        assertEquals(1, child.code(), child.stderr());
        assertEquals(1, errors.size(), child.stderr());
        assertTrue(errors.get(0).contains(file + ": cannot be written (File too large)"), child.stderr());
        assertFalse(child.stderr().contains("\tat "), child.stderr());
    }

    @Test
    void aFailedModelWriteLeavesNoOutputAndAnEarlierEditWhole(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path factors = dir.resolve("f.safetensors");
        CommandRun.stdout("collect", "--model", model.toString(), "--corpus", AtomicOutputTest.corpus(dir).toString(),
                "--out", factors.toString(), "--time", "32");
        long limit = Files.size(model.resolve("model.safetensors")) / 2;

        Path fresh = dir.resolve("fresh");
        ChildProcess failed = ChildProcess.runWithFileSizeLimit(limit, "edit", "--model", model.toString(),
                "--factors", factors.toString(), "--out", fresh.toString(), "--rho", "0.5");
        assertOneLineNaming(failed, fresh.resolve("model.safetensors").toString());
        assertEquals(List.of("corpus.txt", "f.safetensors", "model"), AtomicOutputTest.listing(dir));

        Path earlier = dir.resolve("edited");
        CommandRun.stdout("edit", "--model", model.toString(), "--factors", factors.toString(), "--out",
                earlier.toString(), "--rho", "1");
        byte[] weights = Files.readAllBytes(earlier.resolve("model.safetensors"));
        byte[] report = Files.readAllBytes(earlier.resolve("edit-report.json"));
        ChildProcess over = ChildProcess.runWithFileSizeLimit(limit, "edit", "--model", model.toString(),
                "--factors", factors.toString(), "--out", earlier.toString(), "--rho", "0.5");
        assertOneLineNaming(over, earlier.resolve("model.safetensors").toString());
        assertArrayEquals(weights, Files.readAllBytes(earlier.resolve("model.safetensors")));
        assertArrayEquals(report, Files.readAllBytes(earlier.resolve("edit-report.json")));
        assertEquals(1.0, new ObjectMapper().readTree(report).get("layers").get(0).get("rho").asDouble());
        assertEquals(List.of("config.json", "edit-report.json", "model.safetensors"),
                AtomicOutputTest.listing(earlier));
        assertEquals(List.of("corpus.txt", "edited", "f.safetensors", "model"), AtomicOutputTest.listing(dir));
    }

    @Test
    void aFailedFactorWriteLeavesNoFactorFile(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path corpus = AtomicOutputTest.corpus(dir);
        Path reference = dir.resolve("reference.safetensors");
        CommandRun.stdout("collect", "--model", model.toString(), "--corpus", corpus.toString(), "--out",
                reference.toString(), "--time", "32");
        Path factors = dir.resolve("f.safetensors");
        ChildProcess failed = ChildProcess.runWithFileSizeLimit(Files.size(reference) / 2, "collect", "--model",
                model.toString(), "--corpus", corpus.toString(), "--out", factors.toString(), "--time", "32");
        assertOneLineNaming(failed, factors.toString());
        assertEquals(List.of("corpus.txt", "model", "reference.safetensors"), AtomicOutputTest.listing(dir));
    }
}
