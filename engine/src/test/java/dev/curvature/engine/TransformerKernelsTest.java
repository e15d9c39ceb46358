package dev.curvature.engine;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.Random;

import static dev.curvature.engine.NumericAssertions.assertRelativeError;
import static dev.curvature.engine.NumericAssertions.finiteDifferences;
import static dev.curvature.engine.NumericAssertions.randomValues;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The transformer kernels: forwards against naive double loops written here, backwards against central finite
 * differences in float64 of a scalar loss L = Σ w ⊙ forward(...) with random weights w (relative ≤ 1e-7).
 */
class TransformerKernelsTest {
    static final CpuBackend backend = SharedCpuBackend.get();

    @Test
    void layerNormForwardMatchesNaiveLoop() {
        int n = 300, c = 250;
        Random random = new Random(1);
        for (DType dtype : new DType[]{DType.F32, DType.F64}) {
            try (Arena arena = Arena.ofShared()) {
                Tensor x = Tensor.of(arena, dtype, randomValues(random, n * c), n, c);
                Tensor w = Tensor.of(arena, dtype, randomValues(random, c), c);
                Tensor b = Tensor.of(arena, dtype, randomValues(random, c), c);
                Tensor y = Tensor.allocate(arena, dtype, n, c);
                Tensor mean = Tensor.allocate(arena, dtype, n);
                Tensor rstd = Tensor.allocate(arena, dtype, n);
                backend.layerNorm(y, mean, rstd, x, w, b, 1e-5);
                double[] xv = x.toDoubleArray();
                double[] wv = w.toDoubleArray();
                double[] bv = b.toDoubleArray();
                double[] expected = new double[n * c];
                for (int r = 0; r < n; r++) {
                    double m = 0;
                    for (int i = 0; i < c; i++) {
                        m += xv[r * c + i] / c;
                    }
                    double v = 0;
                    for (int i = 0; i < c; i++) {
                        v += (xv[r * c + i] - m) * (xv[r * c + i] - m) / c;
                    }
                    for (int i = 0; i < c; i++) {
                        expected[r * c + i] = (xv[r * c + i] - m) / Math.sqrt(v + 1e-5) * wv[i] + bv[i];
                    }
                }
                assertRelativeError(expected, y.toDoubleArray(), dtype == DType.F64 ? 1e-14 : 1e-7, "layerNorm " + dtype);
            }
        }
    }

    @Test
    void layerNormBackwardMatchesFiniteDifferences() {
        int n = 6, c = 10;
        Random random = new Random(2);
        try (Arena arena = Arena.ofShared()) {
            Tensor x = Tensor.of(arena, DType.F64, randomValues(random, n * c), n, c);
            Tensor w = Tensor.of(arena, DType.F64, randomValues(random, c), c);
            Tensor b = Tensor.of(arena, DType.F64, randomValues(random, c), c);
            Tensor upstream = Tensor.of(arena, DType.F64, randomValues(random, n * c), n, c);
            Tensor y = Tensor.allocate(arena, DType.F64, n, c);
            Tensor mean = Tensor.allocate(arena, DType.F64, n);
            Tensor rstd = Tensor.allocate(arena, DType.F64, n);
            java.util.function.DoubleSupplier loss = () -> {
                backend.layerNorm(y, mean, rstd, x, w, b, 1e-5);
                return backend.dot(y, upstream);
            };
            loss.getAsDouble();
            Tensor dx = Tensor.of(arena, DType.F64, new double[n * c], n, c);
            Tensor dw = Tensor.allocate(arena, DType.F64, c);
            Tensor db = Tensor.allocate(arena, DType.F64, c);
            backend.fill(dx, 0.5);   // backward accumulates: start from a known value
            backend.layerNormBackward(dx, dw, db, upstream, x, w, mean, rstd);
            double[] fx = finiteDifferences(x, loss, 1e-6);
            for (int i = 0; i < fx.length; i++) {
                fx[i] += 0.5;
            }
            assertRelativeError(fx, dx.toDoubleArray(), 1e-7, "dx");
            assertRelativeError(finiteDifferences(w, loss, 1e-6), dw.toDoubleArray(), 1e-7, "dWeight");
            assertRelativeError(finiteDifferences(b, loss, 1e-6), db.toDoubleArray(), 1e-7, "dBias");
        }
    }

    @Test
    void rowVectorAddAndColumnSumMatchNaiveLoops() {
        int n = 400, c = 300;
        Random random = new Random(3);
        try (Arena arena = Arena.ofShared()) {
            double[] yv = randomValues(random, n * c);
            double[] bv = randomValues(random, c);
            Tensor y = Tensor.of(arena, DType.F64, yv, n, c);
            Tensor bias = Tensor.of(arena, DType.F64, bv, c);
            backend.addRowVector(y, bias);
            double[] expected = new double[n * c];
            double[] columnSums = new double[c];
            for (int r = 0; r < n; r++) {
                for (int i = 0; i < c; i++) {
                    expected[r * c + i] = yv[r * c + i] + bv[i];
                    columnSums[i] += expected[r * c + i];
                }
            }
            assertRelativeError(expected, y.toDoubleArray(), 1e-15, "addRowVector");
            Tensor db = Tensor.of(arena, DType.F64, bv, c);
            backend.sumRowsInto(db, y);
            for (int i = 0; i < c; i++) {
                columnSums[i] += bv[i];
            }
            assertRelativeError(columnSums, db.toDoubleArray(), 1e-14, "sumRowsInto accumulates");
        }
    }

    @Test
    void gatherAndScatterRowsFollowTheIds() {
        try (Arena arena = Arena.ofShared()) {
            Random random = new Random(4);
            int v = 7, c = 5;
            Tensor table = Tensor.of(arena, DType.F32, randomValues(random, v * c), v, c);
            Tensor ids = Tensor.of(arena, DType.I32, new double[]{3, 0, 3, 6}, 4);
            Tensor out = Tensor.allocate(arena, DType.F32, 4, c);
            backend.gatherRows(out, table, ids);
            for (int r = 0; r < 4; r++) {
                for (int i = 0; i < c; i++) {
                    assertEquals(table.get((long) ids.get(r), i), out.get(r, i));
                }
            }
            Tensor dTable = Tensor.allocate(arena, DType.F32, v, c);
            backend.scatterAddRows(dTable, out, ids);
            for (int i = 0; i < c; i++) {
                assertEquals(2 * table.get(3, i), dTable.get(3, i), 1e-6, "repeated id 3 adds twice");
                assertEquals(0.0, dTable.get(1, i), "unused id stays 0");
            }
            Tensor bad = Tensor.of(arena, DType.I32, new double[]{1, 9}, 2);
            var e = assertThrows(IllegalArgumentException.class,
                    () -> backend.gatherRows(Tensor.allocate(arena, DType.F32, 2, c), table.named("wte"), bad));
            assertTrue(e.getMessage().contains("id 9") && e.getMessage().contains("'wte'"), e.getMessage());
        }
    }

    @Test
    void causalSoftmaxMatchesNaiveMaskedSoftmax() {
        int blocks = 6, t = 9;
        double scale = 0.37;
        Random random = new Random(5);
        try (Arena arena = Arena.ofShared()) {
            double[] xv = randomValues(random, blocks * t * t);
            xv[t * t + 2] = Double.NaN;        // above the diagonal of block 1, row 0: must never be read
            Tensor x = Tensor.of(arena, DType.F64, xv, blocks, t, t);
            Tensor y = Tensor.allocate(arena, DType.F64, blocks, t, t);
            backend.causalSoftmax(y, x, scale);
            double[] expected = new double[xv.length];
            for (int b = 0; b < blocks; b++) {
                for (int row = 0; row < t; row++) {
                    int base = (b * t + row) * t;
                    double z = 0;
                    for (int j = 0; j <= row; j++) {
                        z += Math.exp(scale * xv[base + j]);
                    }
                    for (int j = 0; j <= row; j++) {
                        expected[base + j] = Math.exp(scale * xv[base + j]) / z;
                    }
                }
            }
            assertRelativeError(expected, y.toDoubleArray(), 1e-15, "causal softmax");
        }
    }

    @Test
    void causalSoftmaxBackwardMatchesFiniteDifferences() {
        int blocks = 2, t = 5;
        double scale = 0.8;
        Random random = new Random(6);
        try (Arena arena = Arena.ofShared()) {
            Tensor x = Tensor.of(arena, DType.F64, randomValues(random, blocks * t * t), blocks, t, t);
            Tensor upstream = Tensor.of(arena, DType.F64, randomValues(random, blocks * t * t), blocks, t, t);
            Tensor y = Tensor.allocate(arena, DType.F64, blocks, t, t);
            java.util.function.DoubleSupplier loss = () -> {
                backend.causalSoftmax(y, x, scale);
                return backend.dot(y, upstream);
            };
            loss.getAsDouble();
            Tensor dx = Tensor.allocate(arena, DType.F64, blocks, t, t);
            backend.causalSoftmaxBackward(dx, upstream, y, scale);
            assertRelativeError(finiteDifferences(x, loss, 1e-6), dx.toDoubleArray(), 1e-8, "causal softmax backward");
        }
    }

    @Test
    void crossEntropyMatchesLogSumExpAndIgnoresNegativeTargets() {
        int n = 50, v = 333;
        Random random = new Random(7);
        try (Arena arena = Arena.ofShared()) {
            double[] lv = randomValues(random, n * v);
            for (int i = 0; i < lv.length; i++) {
                lv[i] *= 30;
            }
            double[] tv = new double[n];
            for (int i = 0; i < n; i++) {
                tv[i] = i % 7 == 3 ? -1 : random.nextInt(v);
            }
            Tensor logits = Tensor.of(arena, DType.F64, lv, n, v);
            Tensor targets = Tensor.of(arena, DType.I32, tv, n);
            Tensor losses = Tensor.allocate(arena, DType.F64, n);
            Tensor lse = Tensor.allocate(arena, DType.F64, n);
            backend.crossEntropy(losses, lse, logits, targets);
            // reference: log Σ exp by the max-shifted formula in double, per row; loss = lse − logit[target]
            double[] expectedLse = new double[n];
            double[] expected = new double[n];
            for (int r = 0; r < n; r++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int i = 0; i < v; i++) {
                    max = Math.max(max, lv[r * v + i]);
                }
                double z = 0;
                for (int i = 0; i < v; i++) {
                    z += Math.exp(lv[r * v + i] - max);
                }
                expectedLse[r] = max + Math.log(z);
                expected[r] = tv[r] < 0 ? 0 : expectedLse[r] - lv[r * v + (int) tv[r]];
            }
            assertRelativeError(expected, losses.toDoubleArray(), 1e-14, "cross-entropy");
            assertRelativeError(expectedLse, lse.toDoubleArray(), 1e-15, "log-sum-exp of every row, ignored ones too");
        }
    }

    @Test
    void crossEntropyBackwardMatchesFiniteDifferences() {
        int n = 4, v = 11;
        Random random = new Random(8);
        try (Arena arena = Arena.ofShared()) {
            Tensor logits = Tensor.of(arena, DType.F64, randomValues(random, n * v), n, v);
            Tensor targets = Tensor.of(arena, DType.I32, new double[]{3, -1, 10, 0}, n);
            Tensor losses = Tensor.allocate(arena, DType.F64, n);
            Tensor lse = Tensor.allocate(arena, DType.F64, n);
            Tensor ones = Tensor.of(arena, DType.F64, new double[]{1, 1, 1, 1}, n);
            double scale = 1.0 / 3;    // the mean over the three counted positions
            java.util.function.DoubleSupplier loss = () -> {
                backend.crossEntropy(losses, lse, logits, targets);
                return scale * backend.dot(losses, ones);
            };
            double[] expected = finiteDifferences(logits, loss, 1e-6);
            Tensor dLogits = Tensor.allocate(arena, DType.F64, n, v);
            backend.crossEntropy(losses, lse, logits, targets);   // the log-sum-exp backward reuses
            backend.crossEntropyBackward(dLogits, logits, lse, targets, scale);
            assertRelativeError(expected, dLogits.toDoubleArray(), 1e-8, "cross-entropy backward");
            backend.crossEntropyBackward(logits, logits, lse, targets, scale);   // in place
            assertRelativeError(dLogits.toDoubleArray(), logits.toDoubleArray(), 0, "in place");
        }
    }

    @Test
    void adamwMatchesTheTextbookUpdateOverSeveralSteps() {
        // reference: Loshchilov & Hutter's AdamW written out per element in double
        int n = 5000;
        Random random = new Random(9);
        try (Arena arena = Arena.ofShared()) {
            double[] p = randomValues(random, n);
            Tensor param = Tensor.of(arena, DType.F64, p, n);
            Tensor m = Tensor.allocate(arena, DType.F64, n);
            Tensor v = Tensor.allocate(arena, DType.F64, n);
            double[] mr = new double[n];
            double[] vr = new double[n];
            double lr = 1e-3, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
            for (int step = 1; step <= 3; step++) {
                double[] g = randomValues(random, n);
                backend.adamw(param, Tensor.of(arena, DType.F64, g, n), m, v, lr, b1, b2, eps, wd, step);
                for (int i = 0; i < n; i++) {
                    mr[i] = b1 * mr[i] + (1 - b1) * g[i];
                    vr[i] = b2 * vr[i] + (1 - b2) * g[i] * g[i];
                    double mHat = mr[i] / (1 - Math.pow(b1, step));
                    double vHat = vr[i] / (1 - Math.pow(b2, step));
                    p[i] = p[i] - lr * mHat / (Math.sqrt(vHat) + eps) - lr * wd * p[i];
                }
            }
            assertRelativeError(p, param.toDoubleArray(), 1e-15, "parameters after 3 AdamW steps");
            assertRelativeError(vr, v.toDoubleArray(), 1e-15, "second moments");
        }
    }
}
