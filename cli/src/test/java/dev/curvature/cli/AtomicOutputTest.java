package dev.curvature.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.curvature.transformer.checkpoint.RenameExchange;
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

    @Test
    void aKilledSwapIsRepairedAndTemporariesRemovedByTheNextRun(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("edited");
        // killed between the renames: the old edit aside, the new one complete in its temporary
        Path old = Files.createDirectories(dir.resolve(".edited.old.1a2b.tmp"));
        Files.writeString(old.resolve("edit-report.json"), "old");
        Files.createDirectories(dir.resolve(".edited.new.3c4d.tmp"));
        Files.writeString(dir.resolve(".f.safetensors.partial.deadbeef.tmp"), "half a checkpoint");
        OutputFiles.cleanLeftovers(out);
        OutputFiles.cleanLeftovers(dir.resolve("f.safetensors"));
        assertEquals("old", Files.readString(out.resolve("edit-report.json")), "the old edit, whole");
        assertEquals(List.of("edited"), listing(dir));
    }

    /**
     * The swap {@link OutputFiles#replaceDirectory} relies on for "old edit or new edit at every instant": on this
     * (Linux) machine the two directories exchange names in one call, contents and all.
     */
    @Test
    void twoDirectoriesExchangeNamesInOneStep(@TempDir Path dir) throws Exception {
        Path a = Files.createDirectories(dir.resolve("a"));
        Path b = Files.createDirectories(dir.resolve("b"));
        Files.writeString(a.resolve("edit-report.json"), "old");
        Files.writeString(b.resolve("edit-report.json"), "new");
        Files.writeString(b.resolve("model.safetensors"), "weights");
        assertTrue(RenameExchange.swap(a, b), "renameat2 RENAME_EXCHANGE available");
        assertEquals("new", Files.readString(a.resolve("edit-report.json")));
        assertEquals(List.of("edit-report.json", "model.safetensors"), listing(a));
        assertEquals(List.of("edit-report.json"), listing(b));
        assertEquals("old", Files.readString(b.resolve("edit-report.json")));
        assertFalse(RenameExchange.swap(a, dir.resolve("missing")), "a missing side: refused, nothing moved");
        assertEquals(List.of("a", "b"), listing(dir));
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
    void aSecondRunOnTheSameOutputIsRefusedNamingTheFirstsPid(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path out = dir.resolve("f.safetensors");
        try (OutputFiles.Lock first = OutputFiles.lock(out)) {
            CommandFailure second = CommandFailure.of("collect", "--model", model.toString(), "--corpus",
                    corpus(dir).toString(), "--out", out.toString(), "--time", "32");
            assertNotEquals(0, second.code());
            assertTrue(second.message().contains("PID " + ProcessHandle.current().pid()), second.stderr());
            assertFalse(Files.exists(out));
        }
        assertFalse(Files.exists(dir.resolve(".f.safetensors.lock")), "the lock file goes with the lock");
    }

    /** train and workbench own their output like the other commands: one run at a time, leftovers removed. */
    @Test
    void trainAndWorkbenchTakeTheOutputsLockAndRemoveLeftovers(@TempDir Path dir) throws Exception {
        Path corpus = Files.writeString(dir.resolve("corpus.txt"), "In the beginning God created the heaven. "
                .repeat(20));
        Path run = dir.resolve("run");
        Path bench = dir.resolve("bench");
        String[] train = {"train", "--corpus", corpus.toString(), "--out", run.toString(), "--layers", "1", "--width",
                "16", "--heads", "2", "--time", "16", "--batch", "2", "--steps", "2", "--warmup", "1", "--threads", "1"};
        String[] workbench = {"workbench", "--out", bench.toString(), "--source",
                WorkbenchCommandTest.syntheticSource(dir).toString(), "--passages", "1", "--duplicates", "2",
                "--canaries", "1", "--canary-repeats", "2"};
        try (OutputFiles.Lock first = OutputFiles.lock(run); OutputFiles.Lock second = OutputFiles.lock(bench)) {
            for (String[] args : new String[][]{train, workbench}) {
                CommandFailure refused = CommandFailure.of(args);
                assertNotEquals(0, refused.code());
                assertTrue(refused.message().contains("PID " + ProcessHandle.current().pid()), refused.stderr());
            }
        }
        // what a run killed while writing its checkpoint leaves: a half-filled temporary directory
        Files.writeString(Files.createDirectories(dir.resolve(".run.new.77aa.tmp")).resolve("trainer.json"), "{");
        Files.createDirectories(dir.resolve(".bench.new.88bb.tmp"));
        CommandRun.stdout(train);
        CommandRun.stdout(workbench);
        assertEquals(List.of("bench", "corpus.txt", "run", "source.txt"), listing(dir));
        assertEquals(List.of("config.json", "model.safetensors", "optimizer.safetensors", "sample-losses.safetensors", "trainer.json"),
                listing(run));
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
