package dev.curvature.cli;

import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.SafetensorsFile;
import dev.curvature.transformer.checkpoint.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Nothing non-finite is written with exit 0 (issue 17): an eigenbasis with NaN is refused by edit (which then creates
 * no output directory), and weights so large that compute overflows make collect fail before writing, naming the
 * layer and the first bad element.
 */
class NonFiniteOutputTest {

    /** A copy of safetensors {@code from} with {@code value} at {@code index} of tensor {@code name}. */
    static void copyWith(Path from, Path to, String name, double value, long... index) throws Exception {
        try (SafetensorsFile st = SafetensorsFile.open(from); Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> copy = new LinkedHashMap<>();
            for (String n : st.names()) {
                Tensor t = Tensor.allocate(arena, st.tensor(n).dtype(), st.tensor(n).shape());
                t.segment().copyFrom(st.tensor(n).segment());
                copy.put(n, t);
            }
            copy.get(name).set(value, index);
            SafetensorsWriter.write(to, copy, st.metadata());
        }
    }

    static Path corpus(Path dir) throws Exception {
        return Files.writeString(dir.resolve("corpus.txt"), "In the beginning God created the heaven. ".repeat(8));
    }

    @Test
    void editRefusesAnEigenbasisWithNaNInUAAndCreatesNoOutput(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path factors = dir.resolve("f.safetensors");
        Path bases = dir.resolve("bases.safetensors");
        CommandRun.stdout("collect", "--model", model.toString(), "--corpus", corpus(dir).toString(), "--out",
                factors.toString(), "--time", "32");
        CommandRun.stdout("spectrum", "--factors", factors.toString(), "--eigenbases", bases.toString());
        Path broken = dir.resolve("broken.safetensors");
        copyWith(bases, broken, "h.1.mlp.c_fc.U_A", Double.NaN, 1, 2);
        Path out = dir.resolve("edited");
        CommandFailure failure = CommandFailure.of("edit", "--model", model.toString(), "--eigenbases",
                broken.toString(), "--out", out.toString(), "--rho", "0.5");
        assertNotEquals(0, failure.code());
        assertTrue(failure.message().contains("broken.safetensors") && failure.message().contains("h.1.mlp.c_fc.U_A")
                && failure.message().contains("NaN"), failure.stderr());
        assertFalse(Files.exists(out), "a refused edit creates no output directory");
    }

    @Test
    void collectFailsBeforeWritingWhenAWeightOverflowsInCompute(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path huge = Files.createDirectories(dir.resolve("huge"));
        Files.copy(model.resolve("config.json"), huge.resolve("config.json"));
        // 3e38 is a finite float32, but c_fc's output (and its square in A or G) overflows to Inf and then NaN
        copyWith(model.resolve("model.safetensors"), huge.resolve("model.safetensors"), "h.0.mlp.c_fc.weight", 3e38,
                0, 0);
        Path out = dir.resolve("f.safetensors");
        CommandFailure failure = CommandFailure.of("collect", "--model", huge.toString(), "--corpus",
                corpus(dir).toString(), "--out", out.toString(), "--time", "32");
        assertNotEquals(0, failure.code());
        assertTrue(failure.message().contains("first at") && failure.message().contains("h."), failure.stderr());
        assertFalse(Files.exists(out), "no factor file written");
        assertFalse(Files.exists(dev.curvature.kfac.FactorCollection.checkpointOf(out)), "no checkpoint written");
    }
}
