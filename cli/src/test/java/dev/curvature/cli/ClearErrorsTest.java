package dev.curvature.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

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
        assertNotEquals(0, f.code(), f.stderr());
        for (String e : expected) {
            assertTrue(f.message().contains(e), "'" + e + "' missing from: " + f.stderr());
        }
        assertFalse(f.stderr().contains("\tat "), "no stack trace: " + f.stderr());
    }

    @Test
    void outOfRangeOptionsNameTheOptionAndTheRange(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path corpus = Files.writeString(dir.resolve("c.txt"), "some text ".repeat(20));
        String[] base = {"collect", "--model", model.toString(), "--corpus", corpus.toString(), "--out",
                dir.resolve("f.safetensors").toString(), "--time", "16"};
        String[][] cases = {{"--threads", "0"}, {"--threads", "-3"}, {"--threads", "4096"}, {"--batch", "0"},
                {"--batch", "-2"}, {"--max-tokens", "-5"}, {"--checkpoint-every", "-1"}};
        for (String[] c : cases) {
            String[] args = java.util.stream.Stream.concat(java.util.Arrays.stream(base), java.util.Arrays.stream(c))
                    .toArray(String[]::new);
            assertOneLine(CommandFailure.of(args), c[0] + " " + c[1], "allowed");
        }
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
        for (Path corpus : new Path[]{Files.createDirectories(dir.resolve("texts")), Path.of("/dev/zero")}) {
            assertOneLine(CommandFailure.of("collect", "--model", model.toString(), "--corpus", corpus.toString(),
                    "--out", dir.resolve("f.safetensors").toString(), "--time", "16"), corpus.toString(),
                    "not a regular file");
        }
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

    @Test
    void aRhoConfigIsStrictAndItsErrorsNameTheFileAndField(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path factors = Files.writeString(dir.resolve("f.safetensors"), "not read before the ρ config");
        String[][] cases = {{"{\"h.0.mlp.c_fc\": 0.5, \"h.0.mlp.c_fc\": 0.9}", "Duplicate field"},
                {"{}", "no layer"}, {"{\"h.0.mlp.c_fc\": \"half\"}", "h.0.mlp.c_fc"}, {"[0.5]", "JSON object"}};
        for (String[] c : cases) {
            Path rho = Files.writeString(dir.resolve("rho.json"), c[0]);
            assertOneLine(CommandFailure.of("edit", "--model", model.toString(), "--factors", factors.toString(),
                    "--out", dir.resolve("edited").toString(), "--rho-config", rho.toString()), "rho.json", c[1]);
            assertFalse(Files.exists(dir.resolve("edited")));
        }
    }
}
