package dev.curvature.transformer.model;

import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;

import java.util.Random;
import java.util.Set;
import java.util.function.Predicate;

import static dev.curvature.engine.NumericAssertions.finiteDifferences;
import static dev.curvature.engine.NumericAssertions.relativeError;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The finite-difference check every family's gradient test runs: random F64 weights (norm gains near 1 so every path
 * carries signal), then every parameter tensor's backward gradient of the mean loss against central differences of
 * the forward (h = 1e-6), and the input-embedding gradient against differences of {@link Model#forwardFromEmbeddings}.
 */
public final class GradientChecks {
    private GradientChecks() {
    }

    /** Fills every tensor: norm gains (those {@code isNorm} picks) 1 + normStd·N(0,1), the rest std·N(0,1). */
    public static void randomize(ParameterSet p, long seed, Predicate<String> isNorm, double normStd, double std) {
        Random random = new Random(seed);
        for (var e : p.all().entrySet()) {
            Tensor t = e.getValue();
            boolean norm = isNorm.test(e.getKey());
            double[] values = new double[(int) t.size()];
            for (int i = 0; i < values.length; i++) {
                values[i] = norm ? 1 + normStd * random.nextGaussian() : std * random.nextGaussian();
            }
            DType.F64.write(t.storage(), t.offset(), values, 0, values.length);
        }
    }

    /**
     * {@code batch} windows of {@code time} random ids below {@code vocab} (Random(seed)) with next-token targets;
     * the last position of each window and position 3 are not scored.
     */
    public static Batch.Tokens tokens(int batch, int time, int vocab, long seed) {
        Random random = new Random(seed);
        int[] ids = new int[batch * time];
        int[] targets = new int[batch * time];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = random.nextInt(vocab);
        }
        for (int i = 0; i < ids.length; i++) {
            boolean last = i % time == time - 1;
            targets[i] = last || i == 3 ? -1 : ids[i + 1];
        }
        return new Batch.Tokens(ids, targets);
    }

    /** The worst relative error of a check and where it was. */
    public record Worst(String tensor, double error) {
    }

    /**
     * Asserts every parameter gradient of {@code batch} within {@code tolerance} (relative Frobenius) of central
     * differences; tensors in {@code exactlyZero} have a gradient that is zero in exact arithmetic (a ViT's key
     * bias: softmax ignores a shift shared by a row), so both sides must be below 1e-9 absolute.
     */
    public static Worst everyParameter(Model model, Workspace ws, Batch batch, double tolerance,
                                       Set<String> exactlyZero) {
        try (ParameterSet grads = model.allocateGradients()) {
            model.forward(ws, batch);
            model.backward(ws, grads);
            ParameterSet weights = model.parameters();
            Worst worst = new Worst("", 0);
            for (String name : weights.names()) {
                double[] numeric = finiteDifferences(weights.get(name), () -> model.forward(ws, batch), 1e-6);
                double[] analytic = grads.get(name).toDoubleArray();
                if (exactlyZero.stream().anyMatch(name::endsWith)) {
                    assertTrue(maxAbs(numeric) <= 1e-9 && maxAbs(analytic) <= 1e-9, name + ": " + maxAbs(numeric)
                            + ", " + maxAbs(analytic));
                    continue;
                }
                double error = relativeError(numeric, analytic);
                if (error > worst.error()) {
                    worst = new Worst(name, error);
                }
                assertTrue(error <= tolerance, name + ": relative error " + error);
            }
            return worst;
        }
    }

    /** The input-embedding gradient of {@code batch} against differences of the forward from the embeddings. */
    public static double inputEmbeddings(Model model, Workspace ws, Batch batch, double tolerance) {
        try (ParameterSet grads = model.allocateGradients()) {
            model.forward(ws, batch);
            model.backward(ws, grads);
            double[] analytic = ws.inputEmbeddingGradient().toDoubleArray();
            model.forward(ws, batch);
            Tensor x0 = ws.inputEmbeddings();
            double[] base = x0.toDoubleArray();
            double[] numeric = finiteDifferences(x0, () -> model.forwardFromEmbeddings(ws), 1e-6);
            DType.F64.write(x0.storage(), x0.offset(), base, 0, base.length);
            double error = relativeError(numeric, analytic);
            assertTrue(error <= tolerance, "input embeddings: " + error);
            return error;
        }
    }

    static double maxAbs(double[] values) {
        double max = 0;
        for (double v : values) {
            max = Math.max(max, Math.abs(v));
        }
        return max;
    }
}
