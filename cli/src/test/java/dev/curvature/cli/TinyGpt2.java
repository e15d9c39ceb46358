package dev.curvature.cli;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.gpt2.Gpt2Checkpoints;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.train.ModelInitializer;

import java.nio.file.Path;
import java.util.Map;

/** A small random byte-level GPT-2 (2 blocks, width 32, context 64) written in HF layout, for the CLI tests. */
final class TinyGpt2 {
    private TinyGpt2() {
    }

    static Path write(Path dir) throws Exception {
        try (CpuBackend backend = new CpuBackend(1);
             ParameterSet weights = ParameterSet.allocate(backend, Gpt2Config.of(2, 2, 32, 256, 64), DType.F32)) {
            ModelInitializer.initialize(weights, 3);
            Gpt2Checkpoints.save(new Gpt2Model(backend, weights), dir, DType.F32, Map.of());
        }
        return dir;
    }
}
