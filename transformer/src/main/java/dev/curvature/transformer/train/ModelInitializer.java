package dev.curvature.transformer.train;

import dev.curvature.engine.Tensor;
import dev.curvature.transformer.model.LinearLayer;
import dev.curvature.transformer.model.LinearRole;
import dev.curvature.transformer.model.ParameterSet;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * GPT-2's initialisation, for every family: weight matrices and embeddings N(0, 0.02²); the residual projections
 * (roles ATTN_OUT and MLP_OUT: GPT-2 attn.c_proj and mlp.c_proj, Llama o_proj and down_proj) N(0, (0.02/√(2L))²) so
 * the residual stream's variance does not grow with depth; biases 0; norm weights (LayerNorm, RMSNorm) 1.
 * Deterministic: tensors are filled in checkpoint order from one seeded generator.
 */
public final class ModelInitializer {
    private static final int BLOCK = 1 << 20;

    private ModelInitializer() {
    }

    public static void initialize(ParameterSet weights, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        double residualStd = 0.02 / Math.sqrt(2.0 * weights.config().layers());
        Set<String> residual = new HashSet<>();
        for (LinearLayer layer : weights.config().linearLayers()) {
            if (layer.role() == LinearRole.ATTN_OUT || layer.role() == LinearRole.MLP_OUT) {
                residual.add(layer.weightName());
            }
        }
        double[] block = new double[BLOCK];
        for (Map.Entry<String, Tensor> e : weights.all().entrySet()) {
            String name = e.getKey();
            Tensor t = e.getValue();
            double std = residual.contains(name) ? residualStd : 0.02;
            // in blocks (bounded heap for billion-parameter shapes); the draws are in element order either way
            for (long from = 0; from < t.size(); from += BLOCK) {
                int length = (int) Math.min(BLOCK, t.size() - from);
                for (int i = 0; i < length; i++) {
                    if (t.rank() == 1) {
                        block[i] = name.endsWith(".weight") ? 1.0 : 0.0;    // a norm's gain; biases stay 0
                    } else {
                        block[i] = std * gaussian(random);
                    }
                }
                t.dtype().write(t.storage(), t.offset() + from, block, 0, length);
            }
        }
    }

    /** A standard normal sample (Box–Muller; SplittableRandom has no nextGaussian of its own before JDK 17's API). */
    private static double gaussian(SplittableRandom random) {
        double u = 1.0 - random.nextDouble();
        double v = random.nextDouble();
        return Math.sqrt(-2.0 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
