package dev.curvature.cli;

import dev.curvature.transformer.checkpoint.RenameExchange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.curvature.cli.AtomicOutputTest.listing;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The mechanisms behind {@link AtomicOutputTest} (issues 11 and 17), through their own API: a half-done directory
 * swap repaired, the one-step exchange of two directories, and train and workbench holding the output lock.
 */
class OutputFilesTest {

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
}
