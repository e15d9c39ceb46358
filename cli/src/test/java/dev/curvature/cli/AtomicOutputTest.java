package dev.curvature.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Outputs are written whole or not at all (issues 11 and 17): an edit into an existing directory replaces it whole,
 * leftovers of a killed run are removed (and a half-swapped output put back) by the next run, one run per output
 * at a time, and a plot is written under exactly the name given.
 */
class AtomicOutputTest {

    static List<String> listing(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    static Path corpus(Path dir) throws Exception {
        return Files.writeString(dir.resolve("corpus.txt"), "In the beginning God created the heaven. ".repeat(8));
    }

    @Test
    void anEditIntoAnExistingOutputReplacesItWholeAndLeavesNothingBeside(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path factors = dir.resolve("f.safetensors");
        CommandRun.stdout("collect", "--model", model.toString(), "--corpus", corpus(dir).toString(), "--out",
                factors.toString(), "--time", "32");
        Path out = dir.resolve("edited");
        CommandRun.stdout("edit", "--model", model.toString(), "--factors", factors.toString(), "--out",
                out.toString(), "--rho", "1");
        Files.writeString(out.resolve("stray-file-of-the-old-edit"), "x");
        CommandRun.stdout("edit", "--model", model.toString(), "--factors", factors.toString(), "--out",
                out.toString(), "--rho", "0.5");
        var report = new ObjectMapper().readTree(Files.readString(out.resolve("edit-report.json")));
        assertEquals(0.5, report.get("layers").get(0).get("rho").asDouble());
        assertEquals(List.of("config.json", "edit-report.json", "model.safetensors"), listing(out));
        assertEquals(List.of("corpus.txt", "edited", "f.safetensors", "model"), listing(dir));
    }

    /**
     * One run per output at a time: a second collect on the --out of a running one (a real child process) is refused
     * naming the first's PID, and writes nothing.
     */
    @Test
    void aSecondRunOnTheSameOutputIsRefusedNamingTheFirstsPid(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path longCorpus = Files.writeString(dir.resolve("long.txt"), "In the beginning God created the heaven. "
                .repeat(20_000));
        Path out = dir.resolve("f.safetensors");
        ChildProcess.Running first = ChildProcess.start(List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"),
                "collect", "--model", model.toString(), "--corpus", longCorpus.toString(), "--out", out.toString(),
                "--time", "32", "--threads", "1");
        try {
            first.awaitStderr("collect [", 60);   // past loading: the first run owns its output now
            CommandFailure second = CommandFailure.of("collect", "--model", model.toString(), "--corpus",
                    corpus(dir).toString(), "--out", out.toString(), "--time", "32", "--threads", "1");
            String outcome = "second run: exit " + second.code() + (Files.exists(out) ? ", wrote " + out : "")
                    + ": " + second.message().strip();
            assertTrue(second.code() != 0 && second.message().contains("PID " + first.pid()), outcome);
            assertFalse(Files.exists(out), outcome);
        } finally {
            first.kill();
        }
    }

    /** What a killed edit leaves beside its output (its temporary directories) the next edit removes. */
    @Test
    void anEditRemovesTheTemporariesAKilledEditLeft(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path factors = dir.resolve("f.safetensors");
        CommandRun.stdout("collect", "--model", model.toString(), "--corpus", corpus(dir).toString(), "--out",
                factors.toString(), "--time", "32");
        Path out = dir.resolve("edited");
        Files.writeString(Files.createDirectories(dir.resolve(".edited.new.3c4d.tmp")).resolve("model.safetensors"),
                "half the weights");
        Files.writeString(dir.resolve(".f.safetensors.partial.deadbeef.tmp"), "half a checkpoint");
        CommandRun.stdout("edit", "--model", model.toString(), "--factors", factors.toString(), "--out",
                out.toString(), "--rho", "0.5");
        assertEquals(List.of("config.json", "edit-report.json", "model.safetensors"), listing(out));
        assertEquals(List.of(".f.safetensors.partial.deadbeef.tmp", "corpus.txt", "edited", "f.safetensors",
                "model"), listing(dir), "the edit's temporaries removed (the collect's is collect's to remove)");
    }

    @Test
    void collectRemovesTheTemporaryOfAKilledCheckpointWrite(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path leftover = Files.writeString(dir.resolve(".f.safetensors.partial.0123abcd.tmp"), "half");
        CommandRun.stdout("collect", "--model", model.toString(), "--corpus", corpus(dir).toString(), "--out",
                dir.resolve("f.safetensors").toString(), "--time", "32");
        assertFalse(Files.exists(leftover));
        assertEquals(List.of("corpus.txt", "f.safetensors", "model"), listing(dir));
    }

    @Test
    void aPlotIsWrittenUnderExactlyTheNameGiven(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path factors = dir.resolve("f.safetensors");
        CommandRun.stdout("collect", "--model", model.toString(), "--corpus", corpus(dir).toString(), "--out",
                factors.toString(), "--time", "32");
        Path plot = dir.resolve("spectra");
        CommandRun.stdout("spectrum", "--factors", factors.toString(), "--plot", plot.toString());
        assertTrue(Files.size(plot) > 100);
        assertFalse(Files.exists(dir.resolve("spectra.png")));
    }
}
