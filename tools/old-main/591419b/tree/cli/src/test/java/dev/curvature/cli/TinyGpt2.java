package dev.curvature.cli;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.gpt2.Gpt2Checkpoints;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.gpt2.Gpt2Parameters;
import dev.curvature.transformer.train.Gpt2Initializer;

import java.nio.file.Path;
import java.util.Map;

/** Old-main scaffolding: the same tiny GPT-2 as on current main, written through the API of the day. */
final class TinyGpt2 {
    private TinyGpt2() {
    }

    static Path write(Path dir) throws Exception {
        try (CpuBackend backend = new CpuBackend(1);
             Gpt2Parameters weights = Gpt2Parameters.allocate(backend, Gpt2Config.of(2, 2, 32, 256, 64), DType.F32)) {
            Gpt2Initializer.initialize(weights, 3);
            Gpt2Checkpoints.save(new Gpt2Model(backend, weights), dir, DType.F32, Map.of());
        }
        return dir;
    }
}
