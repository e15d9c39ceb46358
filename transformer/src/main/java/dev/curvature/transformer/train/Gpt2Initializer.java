package dev.curvature.transformer.train;

import dev.curvature.engine.Tensor;
import dev.curvature.transformer.model.ParameterSet;

import java.util.Map;
import java.util.SplittableRandom;

/**
 * GPT-2's initialisation: weights and embeddings N(0, 0.02²); the residual projections (attn.c_proj, mlp.c_proj)
 * N(0, (0.02/√(2L))²) so the residual stream's variance does not grow with depth; biases 0; LayerNorm weight 1,
 * bias 0. Deterministic: tensors are filled in checkpoint order from one seeded generator.
 */
public final class Gpt2Initializer {
    private Gpt2Initializer() {
    }

    public static void initialize(ParameterSet weights, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        double residualStd = 0.02 / Math.sqrt(2.0 * weights.config().layers());
        for (Map.Entry<String, Tensor> e : weights.all().entrySet()) {
            String name = e.getKey();
            Tensor t = e.getValue();
            double[] values = new double[(int) t.size()];
            if (name.contains("ln_")) {
                if (name.endsWith(".weight")) {
                    java.util.Arrays.fill(values, 1.0);
                }
            } else if (name.endsWith(".weight")) {
                double std = name.endsWith("c_proj.weight") ? residualStd : 0.02;
                for (int i = 0; i < values.length; i++) {
                    values[i] = std * gaussian(random);
                }
            }
            t.dtype().write(t.storage(), t.offset(), values, 0, values.length);
        }
    }

    /** A standard normal sample (Box–Muller; SplittableRandom has no nextGaussian of its own before JDK 17's API). */
    private static double gaussian(SplittableRandom random) {
        double u = 1.0 - random.nextDouble();
        double v = random.nextDouble();
        return Math.sqrt(-2.0 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
