package dev.curvature.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Clear errors (issues 11, 17): option ranges checked with one line naming the option and the allowed range,
 * Errors such as OutOfMemoryError caught by the top-level handler, inputs that are not regular files refused before
 * reading, a strict --rho-config, an empty or too short corpus named, and ".JSONL" read as JSONL.
 */
class ClearErrorsTest {

    static void assertOneLine(CommandFailure f, String... expected) {
        String problem = problem(f, expected);
        assertTrue(problem == null, problem);
    }

    /** What is wrong with a failure that should be one line holding each of {@code expected}, or null. */
    static String problem(CommandFailure f, String... expected) {
        List<String> wrong = new ArrayList<>();
        if (f.code() == 0) {
            wrong.add("exit 0");
        }
        for (String e : expected) {
            if (!f.message().contains(e)) {
                wrong.add("'" + e + "' missing");
            }
        }
        if (f.stderr().contains("\tat ")) {
            wrong.add("a stack trace");
        }
        return wrong.isEmpty() ? null : String.join(", ", wrong) + " from: " + f.message().strip();
    }

    /** Asserts every case of a loop, reporting all that are wrong (not only the first). */
    static void assertAllRight(List<String> problems) {
        List<String> wrong = problems.stream().filter(java.util.Objects::nonNull).toList();
        assertTrue(wrong.isEmpty(), wrong.size() + " of " + problems.size() + " cases wrong:\n"
                + String.join("\n", wrong));
    }

    @Test
    void outOfRangeOptionsNameTheOptionAndTheRange(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path corpus = Files.writeString(dir.resolve("c.txt"), "some text ".repeat(20));
        String[] base = {"collect", "--model", model.toString(), "--corpus", corpus.toString(), "--out",
                dir.resolve("f.safetensors").toString(), "--time", "16"};
        String[][] cases = {{"--threads", "0"}, {"--threads", "-3"}, {"--threads", "4096"}, {"--batch", "0"},
                {"--batch", "-2"}, {"--max-tokens", "-5"}, {"--checkpoint-every", "-1"}};
        List<String> problems = new ArrayList<>();
        for (String[] c : cases) {
            String[] args = java.util.stream.Stream.concat(java.util.Arrays.stream(base), java.util.Arrays.stream(c))
                    .toArray(String[]::new);
            String problem = problem(CommandFailure.of(args), c[0] + " " + c[1], "allowed");
            problems.add(problem == null ? null : c[0] + " " + c[1] + ": " + problem);
        }
        assertAllRight(problems);
    }

    @Test
    void anOutOfMemoryErrorIsOneLineAndANonZeroExit() {
        StringWriter err = new StringWriter();
        CommandLine cl = CurvatureCommand.commandLine().setErr(new PrintWriter(err, true));
        cl.addSubcommand("oom", new CommandLine(CommandLine.Model.CommandSpec.wrapWithoutInspection(
                (java.util.concurrent.Callable<Integer>) () -> {
                    throw new OutOfMemoryError("Java heap space");
                })));
        int code = cl.execute("oom");
        assertEquals(1, code);
        assertTrue(err.toString().startsWith("curvature: out of memory"), err.toString());
        assertFalse(err.toString().contains("\tat "), err.toString());
    }

    @Test
    void aCorpusThatIsNotARegularFileIsRefusedBeforeReading(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        List<String> problems = new ArrayList<>();
        for (Path corpus : new Path[]{Files.createDirectories(dir.resolve("texts")), Path.of("/dev/zero")}) {
            String problem = problem(CommandFailure.of("collect", "--model", model.toString(), "--corpus",
                    corpus.toString(), "--out", dir.resolve("f.safetensors").toString(), "--time", "16"),
                    corpus.toString(), "not a regular file");
            problems.add(problem == null ? null : corpus + ": " + problem);
        }
        assertAllRight(problems);
    }

    @Test
    void aModelFileThatIsADirectoryIsNamed(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Files.delete(model.resolve("model.safetensors"));
        Files.createDirectory(model.resolve("model.safetensors"));
        assertOneLine(CommandFailure.of("collect", "--model", model.toString(), "--corpus",
                Files.writeString(dir.resolve("c.txt"), "text ".repeat(20)).toString(), "--out",
                dir.resolve("f.safetensors").toString(), "--time", "16"), "model.safetensors", "not a regular file");
    }

    /** A corpus too short for one window, after a good one: named, and no shard of the good one left behind. */
    @Test
    void anEmptyCorpusAmongSeveralIsNamed(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path good = Files.writeString(dir.resolve("good.txt"), "text of a corpus ".repeat(20));
        Path shortOne = Files.writeString(dir.resolve("short.txt"), "too short");
        String problem = problem(CommandFailure.of("collect", "--model", model.toString(), "--corpus",
                good.toString(), shortOne.toString(), "--out", dir.resolve("f.safetensors").toString(), "--time",
                "16"), "short.txt", "fewer than one window");
        List<String> left;
        try (var files = Files.list(dir)) {
            left = files.map(p -> p.getFileName().toString()).filter(n -> n.contains("f.safetensors")).toList();
        }
        assertTrue(problem == null && left.isEmpty(), (problem == null ? "" : problem + "; ") + "left behind: "
                + left);
    }

    /**
     * A FIFO as corpus or as the model's weights file is refused at once instead of blocking on its open (nobody
     * writes to it). A daemon thread opens the FIFO for writing afterwards, to free a reader a failing run left
     * blocked.
     */
    @Test
    void aFifoAsInputIsRefusedWithoutWaitingOnIt(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path corpus = Files.writeString(dir.resolve("c.txt"), "some text ".repeat(20));
        Path fifoCorpus = dir.resolve("fifo.txt");
        Path fifoModel = Files.createDirectories(dir.resolve("fifo-model"));
        Files.copy(model.resolve("config.json"), fifoModel.resolve("config.json"));
        List<String> problems = new ArrayList<>();
        for (Path fifo : new Path[]{fifoCorpus, fifoModel.resolve("model.safetensors")}) {
            assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
            Path m = fifo.equals(fifoCorpus) ? model : fifoModel;
            Path c = fifo.equals(fifoCorpus) ? fifoCorpus : corpus;
            var run = java.util.concurrent.CompletableFuture.supplyAsync(() -> CommandFailure.of("collect",
                    "--model", m.toString(), "--corpus", c.toString(), "--out", dir.resolve("f.safetensors")
                            .toString(), "--time", "16"));
            try {
                String problem = problem(run.get(20, java.util.concurrent.TimeUnit.SECONDS), fifo.toString(),
                        "not a regular file");
                problems.add(problem == null ? null : fifo.getFileName() + ": " + problem);
            } catch (java.util.concurrent.TimeoutException e) {
                problems.add(fifo.getFileName() + ": still running after 20 s (blocked on the FIFO)");
                Thread release = new Thread(() -> {
                    try (var unblock = Files.newOutputStream(fifo)) {
                        unblock.flush();
                    } catch (java.io.IOException ignored) {
                        // the reader is gone: nothing to release
                    }
                });
                release.setDaemon(true);
                release.start();
            }
        }
        assertAllRight(problems);
    }

    /** A refused edit (ρ out of range, or not a number) creates no output directory. */
    @Test
    void aRefusedRhoCreatesNoOutputDirectory(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path factors = dir.resolve("f.safetensors");
        CommandRun.stdout("collect", "--model", model.toString(), "--corpus",
                Files.writeString(dir.resolve("c.txt"), "In the beginning God created the heaven. ".repeat(8))
                        .toString(), "--out", factors.toString(), "--time", "32", "--threads", "1");
        List<String> problems = new ArrayList<>();
        for (String rho : new String[]{"1.5", "-0.5", "NaN"}) {
            Path out = dir.resolve("edited-" + problems.size());
            String problem = problem(CommandFailure.of("edit", "--model", model.toString(), "--factors",
                    factors.toString(), "--out", out.toString(), "--rho", rho), rho);
            if (Files.exists(out)) {
                problem = (problem == null ? "" : problem + "; ") + "created " + out.getFileName() + " holding "
                        + listingOf(out);
            }
            problems.add(problem == null ? null : "--rho " + rho + ": " + problem);
        }
        assertAllRight(problems);
    }

    static List<String> listingOf(Path dir) throws Exception {
        try (var files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void anUpperCaseJsonlNameIsReadAsJsonl() throws Exception {
        Path file = Files.createTempFile("corpus", ".JSONL");
        try {
            Files.writeString(file, "{\"text\": \"one\"}\n{\"text\": \"two\"}\n");
            assertEquals(java.util.List.of("one", "two"),
                    dev.curvature.transformer.data.TextCorpus.read(file).documents());
        } finally {
            Files.delete(file);
        }
    }

    /**
     * A strict --rho-config, read before any work: with a factor file that is not even read (so the ρ config must be
     * checked first) and with real factors (so a lenient reader would go on and write an edit: {} an unedited copy, a
     * duplicate key the last value).
     */
    @Test
    void aRhoConfigIsStrictAndItsErrorsNameTheFileAndField(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path unread = Files.writeString(dir.resolve("unread.safetensors"), "not read before the ρ config");
        Path factors = dir.resolve("f.safetensors");
        CommandRun.stdout("collect", "--model", model.toString(), "--corpus",
                Files.writeString(dir.resolve("c.txt"), "In the beginning God created the heaven. ".repeat(8))
                        .toString(), "--out", factors.toString(), "--time", "32", "--threads", "1");
        String[][] cases = {{"{\"h.0.mlp.c_fc\": 0.5, \"h.0.mlp.c_fc\": 0.9}", "Duplicate field"},
                {"{}", "no layer"}, {"{\"h.0.mlp.c_fc\": \"half\"}", "h.0.mlp.c_fc"}, {"[0.5]", "JSON object"}};
        List<String> problems = new ArrayList<>();
        for (Path f : new Path[]{unread, factors}) {
            for (String[] c : cases) {
                Path rho = Files.writeString(dir.resolve("rho.json"), c[0]);
                String problem = problem(CommandFailure.of("edit", "--model", model.toString(), "--factors",
                        f.toString(), "--out", dir.resolve("edited").toString(), "--rho-config", rho.toString()),
                        "rho.json", c[1]);
                if (Files.exists(dir.resolve("edited"))) {
                    problem = (problem == null ? "" : problem + "; ") + "an edit was written";
                    try (var walk = Files.walk(dir.resolve("edited"))) {
                        for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                            Files.delete(p);
                        }
                    }
                }
                problems.add(problem == null ? null : f.getFileName() + " " + c[0] + ": " + problem);
            }
        }
        assertAllRight(problems);
    }
}
