package dev.curvature.kfac.score;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.Workspace;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static dev.curvature.engine.NumericAssertions.relativeError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Input-embedding gradients of a tiny random F64 GPT-2 (1 block, 2 heads, width 8, vocabulary 16, windows of 8; the
 * last position of each window unscored): window b's rows are the gradient of its own summed loss.
 */
class EmbeddingGradientsTest {
    static final CpuBackend backend = SharedCpuBackend.get();

    @Test
    void windowGradientIsTheGradientOfItsOwnSummedLoss() {
        // reference: central differences (ε 1e-5) of window 1's summed loss in every one of its 8 × 8 embedding
        // values; tolerance 1e-8 relative. Window 0's loss must not move when window 1's embeddings do.
        Gpt2Config config = Gpt2Config.of(1, 2, 8, 16, 8);
        try (ParameterSet weights = ParameterSet.allocate(backend, config, DType.F64)) {
            Random random = new Random(4);
            for (var e : weights.all().entrySet()) {
                Tensor t = e.getValue();
                double[] values = new double[(int) t.size()];
                for (int i = 0; i < values.length; i++) {
                    values[i] = e.getKey().contains("ln") && t.rank() == 1 && e.getKey().endsWith(".weight")
                            ? 1 + 0.1 * random.nextGaussian() : 0.3 * random.nextGaussian();
                }
                DType.F64.write(t.storage(), t.offset(), values, 0, values.length);
            }
            Model model = config.model(backend, weights);
            int[] ids = new int[16];
            int[] targets = new int[16];
            for (int i = 0; i < 16; i++) {
                ids[i] = random.nextInt(16);
            }
            for (int i = 0; i < 16; i++) {
                targets[i] = i % 8 == 7 ? -1 : ids[i + 1];
            }
            try (Workspace ws = model.workspace(2, 8)) {
                EmbeddingGradients input = new EmbeddingGradients(model, ws, new Batch.Tokens(ids, targets));
                assertEquals(2, input.batch());
                assertEquals(64, input.dimension());
                double[] x = input.inputs();
                double[] g = Arrays.copyOfRange(input.gradient(x), 64, 128);
                double window0 = input.losses()[0];
                double[] fd = new double[64];
                for (int j = 0; j < 64; j++) {
                    double[] plus = x.clone();
                    double[] minus = x.clone();
                    plus[64 + j] += 1e-5;
                    minus[64 + j] -= 1e-5;
                    input.gradient(plus);
                    double lp = input.losses()[1];
                    assertEquals(window0, input.losses()[0], 1e-14, "window 0 moved with window 1's embeddings");
                    input.gradient(minus);
                    fd[j] = (lp - input.losses()[1]) / 2e-5;
                }
                double error = relativeError(fd, g);
                System.out.printf("GPT-2 window input-embedding gradient vs central differences of its summed "
                        + "loss: relative error %.2e%n", error);
                assertTrue(error < 1e-8, "relative error " + error);
            }
        }
    }
}
