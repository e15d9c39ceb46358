package dev.curvature.kfac.probe;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.ParameterSet;

import java.util.Random;

/** Tiny F64 models with random weights for the curvature tests, and their token batches. */
final class TinyModels {
    private TinyModels() {
    }

    /**
     * GPT-2 with 1 block, 2 heads, d = 8, vocabulary 16, 8 positions (N = 1,080 parameters), every tensor random:
     * norm gains 1 + 0.1·N(0,1), everything else 0.3·N(0,1) — large enough that the loss is far from any minimum
     * and its Hessian indefinite.
     */
    static Model gpt2(Backend backend, long seed) {
        ParameterSet weights = ParameterSet.allocate(backend, Gpt2Config.of(1, 2, 8, 16, 8), DType.F64);
        randomize(weights, seed, 0.3);
        return weights.config().model(backend, weights);
    }

    static void randomize(ParameterSet p, long seed, double std) {
        Random random = new Random(seed);
        for (var e : p.all().entrySet()) {
            Tensor t = e.getValue();
            boolean gain = t.rank() == 1 && e.getKey().contains("ln") && e.getKey().endsWith(".weight");
            double[] values = new double[(int) t.size()];
            for (int i = 0; i < values.length; i++) {
                values[i] = gain ? 1 + 0.1 * random.nextGaussian() : std * random.nextGaussian();
            }
            DType.F64.write(t.storage(), t.offset(), values, 0, values.length);
        }
    }

    /** {@code batch} windows of {@code time} random tokens below {@code vocab}; targets the next token, −1 last. */
    static int[][] tokens(int batch, int time, int vocab, long seed) {
        Random random = new Random(seed);
        int[] ids = new int[batch * time];
        int[] targets = new int[batch * time];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = random.nextInt(vocab);
        }
        for (int i = 0; i < ids.length; i++) {
            targets[i] = i % time == time - 1 ? -1 : ids[i + 1];
        }
        return new int[][]{ids, targets};
    }
}
