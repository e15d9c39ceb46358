package dev.curvature.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The output rule (issue 11): an output that is, is inside, or contains an input — also through {@code ..} and
 * symbolic links — is refused before any work, and the input is left as it was (SHA-256 unchanged). The inputs here
 * need not be valid files: the refusal comes before anything is read.
 */
class OutputRuleTest {

    static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    static Path modelDir(Path dir) throws Exception {
        Path model = Files.createDirectories(dir.resolve("model"));
        Files.writeString(model.resolve("config.json"), "{\"model_type\": \"gpt2\"}");
        Files.writeString(model.resolve("model.safetensors"), "weights");
        return model;
    }

    static void assertRefused(Path keep, String... args) throws Exception {
        String before = sha256(keep);
        CommandFailure failure = CommandFailure.of(args);
        assertNotEquals(0, failure.code(), String.join(" ", args));
        assertTrue(failure.message().contains("refusing to write over an input"), failure.stderr());
        assertEquals(before, sha256(keep), keep + " must be unchanged");
    }

    @Test
    void collectRefusesAnOutputInsideTheModelDirectory(@TempDir Path dir) throws Exception {
        Path model = modelDir(dir);
        Path corpus = Files.writeString(dir.resolve("corpus.txt"), "text");
        assertRefused(model.resolve("model.safetensors"), "collect", "--model", model.toString(), "--corpus",
                corpus.toString(), "--out", model.resolve("model.safetensors").toString());
    }

    @Test
    void collectRefusesTheCorpusAsOutputAlsoThroughDotDot(@TempDir Path dir) throws Exception {
        Path model = modelDir(dir);
        Path corpus = Files.writeString(dir.resolve("corpus.txt"), "text");
        assertRefused(corpus, "collect", "--model", model.toString(), "--corpus", corpus.toString(), "--out",
                dir.resolve("model/../corpus.txt").toString());
    }

    @Test
    void collectRefusesAnOutputThatIsASymlinkToTheCorpus(@TempDir Path dir) throws Exception {
        Path model = modelDir(dir);
        Path corpus = Files.writeString(dir.resolve("corpus.txt"), "text");
        Path link = Files.createSymbolicLink(dir.resolve("factors.safetensors"), corpus);
        assertRefused(corpus, "collect", "--model", model.toString(), "--corpus", corpus.toString(), "--out",
                link.toString());
    }

    @Test
    void spectrumRefusesEigenbasesWrittenOverItsFactors(@TempDir Path dir) throws Exception {
        Path factors = Files.writeString(dir.resolve("factors.safetensors"), "factors");
        assertRefused(factors, "spectrum", "--factors", factors.toString(), "--eigenbases", factors.toString());
    }

    @Test
    void spectrumRefusesAPlotWrittenOverItsFactors(@TempDir Path dir) throws Exception {
        Path factors = Files.writeString(dir.resolve("factors.safetensors"), "factors");
        Path link = Files.createSymbolicLink(dir.resolve("plot.png"), factors);
        assertRefused(factors, "spectrum", "--factors", factors.toString(), "--plot", link.toString());
    }

    @Test
    void mergeRefusesAnOutputThatIsOneOfItsShards(@TempDir Path dir) throws Exception {
        Path a = Files.writeString(dir.resolve("a.safetensors"), "a");
        Path b = Files.writeString(dir.resolve("b.safetensors"), "b");
        assertRefused(b, "merge", a.toString(), b.toString(), "--out", b.toString());
    }

    @Test
    void editRefusesAnOutputInsideTheModelDirectory(@TempDir Path dir) throws Exception {
        Path model = modelDir(dir);
        Path factors = Files.writeString(dir.resolve("factors.safetensors"), "factors");
        assertRefused(model.resolve("model.safetensors"), "edit", "--model", model.toString(), "--factors",
                factors.toString(), "--out", model.resolve("edited").toString());
        assertFalse(Files.exists(model.resolve("edited")));
    }

    @Test
    void editRefusesAnOutputDirectoryHoldingItsFactors(@TempDir Path dir) throws Exception {
        Path model = modelDir(dir);
        Path runs = Files.createDirectories(dir.resolve("runs"));
        Path factors = Files.writeString(runs.resolve("factors.safetensors"), "factors");
        assertRefused(factors, "edit", "--model", model.toString(), "--factors", factors.toString(), "--out",
                runs.toString());
    }

    @Test
    void editRefusesAnOutputSymlinkedToTheModelDirectory(@TempDir Path dir) throws Exception {
        Path model = modelDir(dir);
        Path factors = Files.writeString(dir.resolve("factors.safetensors"), "factors");
        Path link = Files.createSymbolicLink(dir.resolve("edited"), model);
        assertRefused(model.resolve("model.safetensors"), "edit", "--model", model.toString(), "--factors",
                factors.toString(), "--out", link.toString());
    }

    @Test
    void outputsBesideTheInputsAreAccepted(@TempDir Path dir) throws Exception {
        Path model = modelDir(dir);
        OutputPaths.requireDistinct("--out", dir.resolve("edited"), "--model", model);
        OutputPaths.requireDistinct("--out", dir.resolve("model-2"), "--model", model);   // a prefix, not a parent
    }
}
