package dev.curvature.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * KillTortureTest's edit assertions for a commit without HaltPoint (591419b, 3a714f9): the same edits (ρ 0.8 over a tiny
 * GPT-2, into a new directory and into one holding the ρ 0.5 edit), killed -9 not at a named point but the moment
 * the file system shows the named state (polled in a busy loop), then checked as KillTortureTest checks them: the
 * output absent or whole (the old edit or the new one), and after a rerun nothing left beside it.
 */
class KillTortureOldMainTest {

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

    static List<String> listing(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    static Object fileKey(Path p) {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class).fileKey();
        } catch (Exception e) {
            return null;
        }
    }

    /** Starts the edit in a child JVM and kills it -9 as soon as {@code state} holds; says whether it was killed. */
    static boolean killedWhen(Predicate<Void> state, List<String> args) throws Exception {
        ChildProcess.Running child = ChildProcess.start(List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"),
                args.toArray(String[]::new));
        while (child.process().isAlive()) {
            if (state.test(null)) {
                child.kill();
                return true;
            }
        }
        child.kill();
        return false;
    }

    static List<String> editArgs(Path model, Path factors, Path out, String rho) {
        return List.of("edit", "--model", model.toString(), "--factors", factors.toString(), "--out", out.toString(),
                "--rho", rho, "--threads", "1");
    }

    @Test
    void editKilledAsItsOutputFillsLeavesTheOldEditOrTheNewOneWhole(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path corpus = Files.writeString(dir.resolve("corpus.txt"), "In the beginning God created the heaven. "
                .repeat(14));
        Path factors = dir.resolve("f.safetensors");
        CommandRun.stdout("collect", "--model", model.toString(), "--corpus", corpus.toString(), "--out",
                factors.toString(), "--time", "32", "--threads", "1");
        Path oldEdit = dir.resolve("old-edit");
        CommandRun.stdout(editArgs(model, factors, oldEdit, "0.5").toArray(String[]::new));
        Path newEdit = dir.resolve("new-edit");
        CommandRun.stdout(editArgs(model, factors, newEdit, "0.8").toArray(String[]::new));
        Map<String, String> oldDigests = digests(oldEdit);
        Map<String, String> newDigests = digests(newEdit);

        List<String> wrong = new ArrayList<>();
        List<String> seen = new ArrayList<>();
        for (int k = 0; k < 6; k++) {
            boolean existing = k % 2 == 0;
            Path runDir = Files.createDirectories(dir.resolve("run-" + k));
            Path out = runDir.resolve("edited");
            String what;
            Predicate<Void> state;
            if (existing) {
                Files.createDirectories(out);
                try (Stream<Path> files = Files.list(oldEdit)) {
                    for (Path f : (Iterable<Path>) files::iterator) {
                        Files.copy(f, out.resolve(f.getFileName()), StandardCopyOption.COPY_ATTRIBUTES);
                    }
                }
                Object before = fileKey(out.resolve("model.safetensors"));
                what = "into the old edit, killed when model.safetensors was replaced";
                state = v -> !Objects.equals(before, fileKey(out.resolve("model.safetensors")));
            } else {
                what = "into a new directory, killed when model.safetensors appeared";
                state = v -> Files.exists(out.resolve("model.safetensors"));
            }
            boolean killed = killedWhen(state, editArgs(model, factors, out, "0.8"));
            Map<String, String> after = digests(out);
            String found = after.equals(oldDigests) ? "the old edit" : after.equals(newDigests) ? "the new edit"
                    : after.isEmpty() ? "nothing" : describe(after, oldDigests, newDigests);
            seen.add(what + (killed ? "" : " (ended before the kill)") + ": " + found);
            if (!(after.equals(oldDigests) || after.equals(newDigests) || (!existing && after.isEmpty()))) {
                wrong.add(what + ": " + found);
            }
            CommandRun.stdout(editArgs(model, factors, out, "0.8").toArray(String[]::new));
            if (!listing(runDir).equals(List.of("edited")) || !digests(out).equals(newDigests)) {
                wrong.add(what + ", after the rerun: " + listing(runDir) + " / " + digests(out).keySet());
            }
        }
        assertTrue(wrong.isEmpty(), wrong.size() + " wrong:\n" + String.join("\n", wrong) + "\nall runs:\n"
                + String.join("\n", seen));
    }

    /** Which file came from which edit, e.g. "model.safetensors new, config.json both, edit-report.json old". */
    static String describe(Map<String, String> found, Map<String, String> oldEdit, Map<String, String> newEdit) {
        List<String> parts = new ArrayList<>();
        for (Map.Entry<String, String> e : found.entrySet()) {
            boolean isOld = e.getValue().equals(oldEdit.get(e.getKey()));
            boolean isNew = e.getValue().equals(newEdit.get(e.getKey()));
            parts.add(e.getKey() + " " + (isOld && isNew ? "both" : isOld ? "old" : isNew ? "new" : "neither"));
        }
        return String.join(", ", parts);
    }
}
