package dev.curvature.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The output rule (issue 11): an output that is, is inside, or contains an input — also through {@code ..} and
 * symbolic links — is refused before any work, and the input is left as it was (SHA-256 unchanged). The inputs are
 * valid (a tiny GPT-2, a corpus, factors collected over them), so that without the rule each command would run to the
 * end and write over its input: a failure then says whether the input was overwritten.
 */
class OutputRuleTest {

    /** A valid model, corpus, factor file and eigenbasis file in {@code dir}, made once per test. */
    record Inputs(Path model, Path corpus, Path factors, Path eigenbases) {
        static Inputs in(Path dir) throws Exception {
            Path model = TinyGpt2.write(dir.resolve("model"));
            Path corpus = Files.writeString(dir.resolve("corpus.txt"),
                    "In the beginning God created the heaven and the earth. ".repeat(6));
            Path factors = dir.resolve("factors.safetensors");
            CommandRun.stdout("collect", "--model", model.toString(), "--corpus", corpus.toString(), "--out",
                    factors.toString(), "--time", "32", "--threads", "1");
            Path eigenbases = dir.resolve("eigenbases.safetensors");
            CommandRun.stdout("spectrum", "--factors", factors.toString(), "--eigenbases", eigenbases.toString());
            return new Inputs(model, corpus, factors, eigenbases);
        }
    }

    static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    static void assertRefused(Path keep, String... args) throws Exception {
        String before = sha256(keep);
        CommandFailure failure = CommandFailure.of(args);
        String after = sha256(keep);
        String outcome = "exit " + failure.code() + ", " + keep.getFileName()
                + (before.equals(after) ? " unchanged" : " OVERWRITTEN") + ": " + failure.message().strip();
        assertTrue(failure.code() != 0 && failure.message().contains("refusing to write over an input")
                && before.equals(after), outcome);
    }

    @Test
    void collectRefusesAnOutputInsideTheModelDirectory(@TempDir Path dir) throws Exception {
        Inputs in = Inputs.in(dir);
        assertRefused(in.model().resolve("model.safetensors"), "collect", "--model", in.model().toString(),
                "--corpus", in.corpus().toString(), "--out", in.model().resolve("model.safetensors").toString(),
                "--time", "32");
    }

    @Test
    void collectRefusesTheCorpusAsOutputAlsoThroughDotDot(@TempDir Path dir) throws Exception {
        Inputs in = Inputs.in(dir);
        assertRefused(in.corpus(), "collect", "--model", in.model().toString(), "--corpus", in.corpus().toString(),
                "--out", dir.resolve("model/../corpus.txt").toString(), "--time", "32");
    }

    @Test
    void collectRefusesAnOutputThatIsASymlinkToTheCorpus(@TempDir Path dir) throws Exception {
        Inputs in = Inputs.in(dir);
        Path link = Files.createSymbolicLink(dir.resolve("f.safetensors"), in.corpus());
        assertRefused(in.corpus(), "collect", "--model", in.model().toString(), "--corpus", in.corpus().toString(),
                "--out", link.toString(), "--time", "32");
    }

    @Test
    void spectrumRefusesEigenbasesWrittenOverItsFactors(@TempDir Path dir) throws Exception {
        Inputs in = Inputs.in(dir);
        assertRefused(in.factors(), "spectrum", "--factors", in.factors().toString(), "--eigenbases",
                in.factors().toString());
    }

    @Test
    void spectrumRefusesAPlotWrittenOverItsFactors(@TempDir Path dir) throws Exception {
        Inputs in = Inputs.in(dir);
        Path link = Files.createSymbolicLink(dir.resolve("plot.png"), in.factors());
        assertRefused(in.factors(), "spectrum", "--factors", in.factors().toString(), "--plot", link.toString());
    }

    @Test
    void mergeRefusesAnOutputThatIsOneOfItsShards(@TempDir Path dir) throws Exception {
        Inputs in = Inputs.in(dir);
        Path other = dir.resolve("other.safetensors");
        CommandRun.stdout("collect", "--model", in.model().toString(), "--corpus", in.corpus().toString(), "--out",
                other.toString(), "--time", "16", "--threads", "1");
        assertRefused(in.factors(), "merge", in.factors().toString(), other.toString(), "--out",
                in.factors().toString());
    }

    /** The first data-loss case of issue 11: {@code edit --model M --out M}. */
    @Test
    void editRefusesItsOwnModelDirectoryAsOutput(@TempDir Path dir) throws Exception {
        Inputs in = Inputs.in(dir);
        assertRefused(in.model().resolve("model.safetensors"), "edit", "--model", in.model().toString(),
                "--factors", in.factors().toString(), "--out", in.model().toString(), "--rho", "0.5");
    }

    @Test
    void editRefusesAnOutputInsideTheModelDirectory(@TempDir Path dir) throws Exception {
        Inputs in = Inputs.in(dir);
        assertRefused(in.model().resolve("model.safetensors"), "edit", "--model", in.model().toString(),
                "--factors", in.factors().toString(), "--out", in.model().resolve("edited").toString(),
                "--rho", "0.5");
        assertFalse(Files.exists(in.model().resolve("edited")));
    }

    @Test
    void editRefusesAnOutputDirectoryHoldingItsFactors(@TempDir Path dir) throws Exception {
        Inputs in = Inputs.in(dir);
        Path runs = Files.createDirectories(dir.resolve("runs"));
        Path factors = Files.copy(in.factors(), runs.resolve("factors.safetensors"));
        assertRefused(factors, "edit", "--model", in.model().toString(), "--factors", factors.toString(), "--out",
                runs.toString(), "--rho", "0.5");
    }

    @Test
    void editRefusesAnOutputSymlinkedToTheModelDirectory(@TempDir Path dir) throws Exception {
        Inputs in = Inputs.in(dir);
        Path link = Files.createSymbolicLink(dir.resolve("edited"), in.model());
        assertRefused(in.model().resolve("model.safetensors"), "edit", "--model", in.model().toString(),
                "--factors", in.factors().toString(), "--out", link.toString(), "--rho", "0.5");
    }
}
