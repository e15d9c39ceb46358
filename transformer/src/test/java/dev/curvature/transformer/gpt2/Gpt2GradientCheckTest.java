package dev.curvature.transformer.gpt2;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.Workspace;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static dev.curvature.engine.NumericAssertions.finiteDifferences;
import static dev.curvature.engine.NumericAssertions.relativeError;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every gradient of a tiny GPT-2 (2 layers, d = 16, 2 heads, vocab 50, T = 8, batch 2, float64) against central
 * finite differences of the loss (h = 1e-6): relative Frobenius error ≤ 1e-6 for every parameter tensor and for the
 * input embeddings. LayerNorm weights/biases and all biases are random, so every path carries signal.
 */
class Gpt2GradientCheckTest {
    static CpuBackend backend;

    @BeforeAll
    static void open() {
        backend = new CpuBackend(1);
    }

    @AfterAll
    static void close() {
        backend.close();
    }

    static void randomize(ParameterSet p, long seed) {
        Random random = new Random(seed);
        for (var e : p.all().entrySet()) {
            Tensor t = e.getValue();
            boolean norm = e.getKey().contains("ln_") && e.getKey().endsWith(".weight");
            double[] values = new double[(int) t.size()];
            for (int i = 0; i < values.length; i++) {
                values[i] = norm ? 1 + 0.1 * random.nextGaussian() : 0.3 * random.nextGaussian();
            }
            DType.F64.write(t.storage(), t.offset(), values, 0, values.length);
        }
    }

    @Test
    void everyGradientMatchesFiniteDifferences() {
        Gpt2Config config = Gpt2Config.of(2, 2, 16, 50, 8);
        int batch = 2, time = 8;
        Random random = new Random(3);
        int[] ids = new int[batch * time];
        int[] targets = new int[batch * time];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = random.nextInt(50);
        }
        for (int i = 0; i < ids.length; i++) {
            boolean last = i % time == time - 1;
            targets[i] = last || i == 3 ? -1 : ids[i + 1];
        }
        try (ParameterSet weights = ParameterSet.allocate(backend, config, DType.F64)) {
            randomize(weights, 11);
            Gpt2Model model = new Gpt2Model(backend, weights);
            try (Workspace act = model.workspace(batch, time);
                 ParameterSet grads = model.allocateGradients()) {
                model.forward(act, new Batch.Tokens(ids, targets));
                model.backward(act, grads);
                double worst = 0;
                String worstName = "";
                for (String name : weights.names()) {
                    double[] numeric = finiteDifferences(weights.get(name), () -> model.forward(act, new Batch.Tokens(ids, targets)), 1e-6);
                    double error = relativeError(numeric, grads.get(name).toDoubleArray());
                    if (error > worst) {
                        worst = error;
                        worstName = name;
                    }
                    assertTrue(error <= 1e-6, name + ": relative error " + error);
                }
                // input embeddings: perturb x₀ = wte[ids] + wpe[t] directly and rerun from there
                model.forward(act, new Batch.Tokens(ids, targets));
                model.backward(act, grads);
                double[] analytic = act.inputEmbeddingGradient().toDoubleArray();
                model.forward(act, new Batch.Tokens(ids, targets));
                Tensor x0 = act.inputEmbeddings();
                double[] base = x0.toDoubleArray();
                double[] numeric = finiteDifferences(x0, () -> {
                    double loss = model.forwardFromEmbeddings(act);
                    return loss;
                }, 1e-6);
                DType.F64.write(x0.storage(), x0.offset(), base, 0, base.length);
                double inputError = relativeError(numeric, analytic);
                assertTrue(inputError <= 1e-6, "input embeddings: " + inputError);
                System.out.printf("finite differences: worst parameter tensor %s %.2e, input embeddings %.2e%n",
                        worstName, worst, inputError);
            }
        }
    }
}
