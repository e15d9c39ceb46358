package dev.curvature.kfac;

import dev.curvature.engine.NumericAssertions;
import dev.curvature.engine.DType;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.transformer.checkpoint.SafetensorsFile;
import dev.curvature.transformer.gpt2.Gpt2Checkpoints;
import dev.curvature.transformer.gpt2.Gpt2Model;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The PyTorch-written GPT-2 fixture, which lives with the transformer module's tests: its float64 model (loaded once
 * per test JVM on the shared backend, never modified) and its batch (2 × 12 tokens, 21 counted positions).
 */
final class Fixtures {
    private static Gpt2Model model;
    private static int[] ids;
    private static int[] targets;

    private Fixtures() {
    }

    static synchronized Gpt2Model model() {
        if (model == null) {
            try {
                model = Gpt2Checkpoints.load(SharedCpuBackend.get(), gpt2Tiny(), DType.F64);
                try (SafetensorsFile expected = SafetensorsFile.open(gpt2Tiny().resolve("expected-f64.safetensors"))) {
                    ids = NumericAssertions.intValues(expected.tensor("input_ids"));
                    targets = NumericAssertions.intValues(expected.tensor("targets"));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return model;
    }

    static int[] ids() {
        model();
        return ids.clone();
    }

    static int[] targets() {
        model();
        return targets.clone();
    }

    /** transformer/src/test/resources/gpt2-tiny, found from the module directory Surefire runs in. */
    static Path gpt2Tiny() {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null) {
            Path candidate = dir.resolve("transformer/src/test/resources/gpt2-tiny");
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
            dir = dir.getParent();
        }
        throw new IllegalStateException("cannot find transformer/src/test/resources/gpt2-tiny above "
                + Path.of("").toAbsolutePath());
    }
}
