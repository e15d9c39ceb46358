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

    @Test
    void anEmptyCorpusAmongSeveralIsNamed(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path good = Files.writeString(dir.resolve("good.txt"), "text of a corpus ".repeat(20));
        Path shortOne = Files.writeString(dir.resolve("short.txt"), "too short");
        assertOneLine(CommandFailure.of("collect", "--model", model.toString(), "--corpus", good.toString(),
                shortOne.toString(), "--out", dir.resolve("f.safetensors").toString(), "--time", "16"),
                "short.txt", "fewer than one window");
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
