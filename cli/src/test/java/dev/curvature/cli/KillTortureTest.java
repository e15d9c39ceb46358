package dev.curvature.cli;

import dev.curvature.transformer.checkpoint.HaltPoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 torture (issues 11 and 17): collect and edit are run in a child JVM that halts dead (Runtime.halt, exit
 * 137: no finally blocks, no shutdown hooks) at a named {@link HaltPoint}, then the same command is run again. After
 * every kill the output is absent or whole (byte for byte what an uninterrupted run writes, or for an edit into an
 * existing directory the earlier edit), no input has changed (SHA-256 of every file), and the rerun reproduces an
 * uninterrupted run bit for bit and leaves nothing beside its output.
 */
class KillTortureTest {

    /** SHA-256 of every regular file under {@code root} (a file or a directory), by path relative to it. */
    static Map<String, String> digests(Path root) throws Exception {
        Map<String, String> out = new TreeMap<>();
        if (!Files.exists(root)) {
            return out;
        }
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : (Iterable<Path>) all.filter(Files::isRegularFile)::iterator) {
                out.put(root.relativize(p).toString(), HexFormat.of().formatHex(
                        MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p))));
            }
        }
        return out;
    }

    static Map<String, Map<String, String>> digestsOf(List<Path> inputs) throws Exception {
        Map<String, Map<String, String>> out = new TreeMap<>();
        for (Path p : inputs) {
            out.put(p.toString(), digests(p));
        }
        return out;
    }

    /** Runs curvature in a child JVM that halts at {@code point}; asserts it died there and nowhere else. */
    static void killedAt(String point, List<String> args) throws Exception {
        ChildProcess child = ChildProcess.run(List.of("-D" + HaltPoint.PROPERTY + "=" + point, "-Xmx512m",
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"),
                args.toArray(String[]::new));
        String name = point.contains("#") ? point : point + "#1";
        assertEquals(137, child.code(), point + ": " + child.stderr());
        assertTrue(child.stderr().contains("halted at " + name), point + ": " + child.stderr());
    }

    static String text(int bytes, int seed) {
        StringBuilder s = new StringBuilder();
        java.util.Random r = new java.util.Random(seed);
        String[] words = {"in ", "the ", "beginning ", "God ", "created ", "heaven ", "and ", "earth. "};
        while (s.length() < bytes) {
            s.append(words[r.nextInt(words.length)]);
        }
        return s.substring(0, bytes);
    }

    static List<String> collectArgs(Path model, List<Path> corpora, Path out) {
        List<String> args = new ArrayList<>(List.of("collect", "--model", model.toString(), "--corpus"));
        corpora.forEach(c -> args.add(c.toString()));
        // 2 windows of 32 tokens per batch, a checkpoint after every batch but the last
        args.addAll(List.of("--out", out.toString(), "--time", "32", "--batch", "2", "--checkpoint-every", "64",
                "--threads", "1"));
        return args;
    }

    /**
     * One corpus of 8 batches (checkpoint writes #1-#7, the output #8) and two corpora of 4 batches (shard 0: writes
     * #1-#4, shard 1: #5-#8, the merged output #9), killed mid-batch, with a torn / complete-but-unrenamed /
     * just-renamed checkpoint or output, in the second shard and with the merged output torn.
     */
    @Test
    void collectKilledAnywhereResumesToTheUninterruptedFactorsBitForBit(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path one = Files.writeString(dir.resolve("one.txt"), text(8 * 64 + 5, 1));
        Path first = Files.writeString(dir.resolve("first.txt"), text(4 * 64 + 7, 2));
        Path second = Files.writeString(dir.resolve("second.txt"), text(4 * 64 + 3, 3));
        List<Path> inputs = List.of(model, one, first, second);
        Map<String, Map<String, String>> inputsBefore = digestsOf(inputs);

        Path singleReference = dir.resolve("reference-single/f.safetensors");
        Path multiReference = dir.resolve("reference-multi/f.safetensors");
        CommandRun.stdout(collectArgs(model, List.of(one), singleReference).toArray(String[]::new));
        CommandRun.stdout(collectArgs(model, List.of(first, second), multiReference).toArray(String[]::new));
        String single = digests(singleReference).get("");
        String multi = digests(multiReference).get("");

        record Case(String point, List<Path> corpora, String reference) {
        }
        List<Case> cases = List.of(
                new Case("collect.batch#4", List.of(one), single),
                new Case("safetensors.header-written#3", List.of(one), single),
                new Case("atomic-write.forced#5", List.of(one), single),
                new Case("atomic-write.renamed#7", List.of(one), single),
                new Case("safetensors.header-written#8", List.of(one), single),
                new Case("atomic-write.renamed#8", List.of(one), single),
                new Case("collect.batch#6", List.of(first, second), multi),
                new Case("safetensors.header-written#9", List.of(first, second), multi));
        int k = 0;
        for (Case c : cases) {
            Path runDir = Files.createDirectories(dir.resolve("run-" + k++));
            Path out = runDir.resolve("f.safetensors");
            List<String> args = collectArgs(model, c.corpora(), out);
            killedAt(c.point(), args);
            if (Files.exists(out)) {
                assertEquals(c.reference(), digests(out).get(""), c.point() + ": an output after the kill is whole");
            }
            CommandRun.stdout(args.toArray(String[]::new));
            assertEquals(c.reference(), digests(out).get(""), c.point() + ": resumed factors bit for bit");
            assertEquals(List.of("f.safetensors"), AtomicOutputTest.listing(runDir),
                    c.point() + ": no checkpoint, shard, temporary or lock left");
        }
        assertEquals(inputsBefore, digestsOf(inputs), "model and corpora unchanged");
    }

    static List<String> editArgs(Path model, Path factors, Path out, String rho) {
        return List.of("edit", "--model", model.toString(), "--factors", factors.toString(), "--out", out.toString(),
                "--rho", rho, "--threads", "1");
    }

    /** Model, factors over it, and the digests of an uninterrupted edit at ρ = 0.5 and at ρ = 0.8. */
    record EditSetting(Path model, Path factors, Path oldEdit, Map<String, String> oldDigests,
                       Map<String, String> newDigests) {
        static EditSetting in(Path dir) throws Exception {
            Path model = TinyGpt2.write(dir.resolve("model"));
            Path corpus = Files.writeString(dir.resolve("corpus.txt"), text(8 * 64 + 5, 4));
            Path factors = dir.resolve("f.safetensors");
            CommandRun.stdout("collect", "--model", model.toString(), "--corpus", corpus.toString(), "--out",
                    factors.toString(), "--time", "32", "--threads", "1");
            Path oldEdit = dir.resolve("old-edit");
            CommandRun.stdout(editArgs(model, factors, oldEdit, "0.5").toArray(String[]::new));
            Path newEdit = dir.resolve("new-edit");
            CommandRun.stdout(editArgs(model, factors, newEdit, "0.8").toArray(String[]::new));
            Map<String, String> oldDigests = digests(oldEdit);
            Map<String, String> newDigests = digests(newEdit);
            assertEquals(List.of("config.json", "edit-report.json", "model.safetensors"),
                    List.copyOf(newDigests.keySet()));
            assertFalse(oldDigests.get("model.safetensors").equals(newDigests.get("model.safetensors")),
                    "the two edits differ in their weights");
            return new EditSetting(model, factors, oldEdit, oldDigests, newDigests);
        }
    }

    @Test
    void editKilledAnywhereLeavesNoOutputOrAWholeOne(@TempDir Path dir) throws Exception {
        EditSetting s = EditSetting.in(dir);
        List<Path> inputs = List.of(s.model(), s.factors());
        Map<String, Map<String, String>> inputsBefore = digestsOf(inputs);
        List<String> points = List.of("output.locked", "edit.layer#2", "safetensors.header-written#1",
                "atomic-write.renamed#2", "directory.filled");
        int k = 0;
        for (String point : points) {
            Path runDir = Files.createDirectories(dir.resolve("run-" + k++));
            Path out = runDir.resolve("edited");
            List<String> args = editArgs(s.model(), s.factors(), out, "0.8");
            killedAt(point, args);
            Map<String, String> after = digests(out);
            assertTrue(after.isEmpty() || after.equals(s.newDigests()), point + ": absent or whole, found " + after);
            CommandRun.stdout(args.toArray(String[]::new));
            assertEquals(s.newDigests(), digests(out), point + ": the rerun writes the uninterrupted edit");
            assertEquals(List.of("edited"), AtomicOutputTest.listing(runDir), point + ": nothing left beside it");
        }
        assertEquals(inputsBefore, digestsOf(inputs), "model and factors unchanged");
    }

    /**
     * Every point of an edit into a directory holding an earlier edit: its three files are written to the temporary
     * directory (#1 model.safetensors, #2 config.json, #3 edit-report.json) before the swap and the old edit's
     * deletion. Right after each kill, before any repair, the directory holds the old edit or the new one, whole.
     */
    @Test
    void editIntoAnExistingOutputKilledAtSixteenPointsHoldsTheOldEditOrTheNewOne(@TempDir Path dir) throws Exception {
        EditSetting s = EditSetting.in(dir);
        List<Path> inputs = List.of(s.model(), s.factors());
        Map<String, Map<String, String>> inputsBefore = digestsOf(inputs);
        List<String> points = List.of("output.locked", "edit.layer#1", "edit.layer#4",
                "atomic-write.open#1", "safetensors.header-written#1", "atomic-write.forced#1",
                "atomic-write.renamed#1", "atomic-write.open#2", "atomic-write.forced#2", "atomic-write.renamed#2",
                "atomic-write.open#3", "atomic-write.forced#3", "atomic-write.renamed#3",
                "directory.filled", "directory.swapped", "directory.deleting#2");
        List<String> oldSeen = new ArrayList<>();
        List<String> newSeen = new ArrayList<>();
        int k = 0;
        for (String point : points) {
            Path runDir = Files.createDirectories(dir.resolve("run-" + k++));
            Path out = runDir.resolve("edited");
            copyDirectory(s.oldEdit(), out);
            List<String> args = editArgs(s.model(), s.factors(), out, "0.8");
            killedAt(point, args);
            Map<String, String> after = digests(out);
            if (after.equals(s.oldDigests())) {
                oldSeen.add(point);
            } else {
                assertEquals(s.newDigests(), after, point + ": the old edit or the new one, whole");
                newSeen.add(point);
            }
            CommandRun.stdout(args.toArray(String[]::new));
            assertEquals(s.newDigests(), digests(out), point + ": the rerun writes the uninterrupted edit");
            assertEquals(List.of("edited"), AtomicOutputTest.listing(runDir), point + ": nothing left beside it");
        }
        assertEquals(points.subList(0, 14), oldSeen, "killed before the swap: the old edit");
        assertEquals(points.subList(14, 16), newSeen, "killed after the swap: the new edit");
        assertEquals(inputsBefore, digestsOf(inputs), "model and factors unchanged");
    }

    static void copyDirectory(Path from, Path to) throws Exception {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.copy(f, to.resolve(f.getFileName()), StandardCopyOption.COPY_ATTRIBUTES);
            }
        }
    }
}
