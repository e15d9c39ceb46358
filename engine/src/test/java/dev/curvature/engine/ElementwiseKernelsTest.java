package dev.curvature.engine;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.Random;

import static dev.curvature.engine.NumericAssertions.assertRelativeError;
import static dev.curvature.engine.NumericAssertions.finiteDifferences;
import static dev.curvature.engine.NumericAssertions.randomValues;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Elementwise and row kernels against naive loops in double on the same (rounded) inputs; GELU and softmax
 * backward against central finite differences of the forward formula in double. Each runs in a shared arena
 * (the threaded path: 1000×700 is above the threading threshold) and a confined one (the calling-thread path).
 * Tolerances: F64 1e-14 relative; F32 6e-8 (one rounding of the double result to float).
 */
class ElementwiseKernelsTest {
    static final CpuBackend backend = SharedCpuBackend.get();
    static final int ROWS = 1000;
    static final int COLS = 700;

    enum Memory { SHARED, CONFINED }

    static Arena arena(Memory memory) {
        return memory == Memory.SHARED ? Arena.ofShared() : Arena.ofConfined();
    }

    static double tolerance(DType dtype) {
        return dtype == DType.F64 ? 1e-14 : 6e-8;
    }

    static void eachDtypeAndMemory(java.util.function.BiConsumer<DType, Arena> body) {
        for (DType dtype : new DType[]{DType.F32, DType.F64}) {
            for (Memory memory : Memory.values()) {
                try (Arena arena = arena(memory)) {
                    body.accept(dtype, arena);
                }
            }
        }
    }

    @Test
    void addMulScaleAxpyMatchNaiveLoops() {
        eachDtypeAndMemory((dtype, arena) -> {
            Random random = new Random(1);
            Tensor a = Tensor.of(arena, dtype, randomValues(random, ROWS * COLS), ROWS, COLS);
            Tensor b = Tensor.of(arena, dtype, randomValues(random, ROWS * COLS), ROWS, COLS);
            double[] av = a.toDoubleArray();
            double[] bv = b.toDoubleArray();
            Tensor out = Tensor.allocate(arena, dtype, ROWS, COLS);
            double[] expected = new double[av.length];

            backend.add(out, a, b);
            for (int i = 0; i < av.length; i++) {
                expected[i] = av[i] + bv[i];
            }
            assertRelativeError(expected, out.toDoubleArray(), tolerance(dtype), "add " + dtype);

            backend.mul(out, a, b);
            for (int i = 0; i < av.length; i++) {
                expected[i] = av[i] * bv[i];
            }
            assertRelativeError(expected, out.toDoubleArray(), tolerance(dtype), "mul " + dtype);

            backend.scale(out, a, -1.75);
            for (int i = 0; i < av.length; i++) {
                expected[i] = -1.75 * av[i];
            }
            assertRelativeError(expected, out.toDoubleArray(), tolerance(dtype), "scale " + dtype);

            backend.copy(out, a);
            backend.axpy(out, b, 0.3);
            for (int i = 0; i < av.length; i++) {
                expected[i] = av[i] + 0.3 * bv[i];
            }
            assertRelativeError(expected, out.toDoubleArray(), tolerance(dtype), "axpy " + dtype);

            double dot = 0;
            for (int i = 0; i < av.length; i++) {
                dot += av[i] * bv[i];
            }
            assertEquals(dot, backend.dot(a, b), 1e-12 * Math.abs(dot) + 1e-12, "dot " + dtype);

            double sum = 0;
            for (double value : av) {
                sum += value;
            }
            assertEquals(sum, backend.sum(a), 1e-12 * Math.abs(sum) + 1e-12, "sum " + dtype);
        });
    }

    @Test
    void rowReductionsAndSoftmaxMatchNaiveLoops() {
        eachDtypeAndMemory((dtype, arena) -> {
            Random random = new Random(2);
            double[] values = randomValues(random, ROWS * COLS);
            for (int i = 0; i < values.length; i++) {
                values[i] *= 20; // logits with a wide range: exp overflows without the max shift
            }
            Tensor x = Tensor.of(arena, dtype, values, ROWS, COLS);
            double[] xv = x.toDoubleArray();
            Tensor max = Tensor.allocate(arena, dtype, ROWS);
            Tensor sum = Tensor.allocate(arena, dtype, ROWS);
            Tensor y = Tensor.allocate(arena, dtype, ROWS, COLS);
            backend.rowMax(max, x);
            backend.rowSum(sum, x);
            backend.softmaxRows(y, x);
            double[] expectedMax = new double[ROWS];
            double[] expectedSum = new double[ROWS];
            double[] expectedSoftmax = new double[ROWS * COLS];
            for (int r = 0; r < ROWS; r++) {
                double m = Double.NEGATIVE_INFINITY;
                double s = 0;
                for (int c = 0; c < COLS; c++) {
                    m = Math.max(m, xv[r * COLS + c]);
                    s += xv[r * COLS + c];
                }
                expectedMax[r] = m;
                expectedSum[r] = s;
                double z = 0;
                for (int c = 0; c < COLS; c++) {
                    z += Math.exp(xv[r * COLS + c] - m);
                }
                for (int c = 0; c < COLS; c++) {
                    expectedSoftmax[r * COLS + c] = Math.exp(xv[r * COLS + c] - m) / z;
                }
            }
            assertRelativeError(expectedMax, max.toDoubleArray(), 0, "rowMax " + dtype);
            assertRelativeError(expectedSum, sum.toDoubleArray(), tolerance(dtype), "rowSum " + dtype);
            assertRelativeError(expectedSoftmax, y.toDoubleArray(), tolerance(dtype), "softmax " + dtype);
        });
    }

    @Test
    void geluTanhMatchesFormula() {
        eachDtypeAndMemory((dtype, arena) -> {
            Random random = new Random(3);
            double[] values = randomValues(random, ROWS * COLS);
            for (int i = 0; i < values.length; i++) {
                values[i] *= 6;
            }
            Tensor x = Tensor.of(arena, dtype, values, ROWS * COLS);
            Tensor y = Tensor.allocate(arena, dtype, ROWS * COLS);
            backend.geluTanh(y, x);
            double[] xv = x.toDoubleArray();
            double[] expected = new double[xv.length];
            for (int i = 0; i < xv.length; i++) {
                expected[i] = gelu(xv[i]);
            }
            assertRelativeError(expected, y.toDoubleArray(), tolerance(dtype), "gelu " + dtype);
        });
    }

    /** The GELU tanh formula as PyTorch documents it (approximate='tanh'), written out independently. */
    static double gelu(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * Math.pow(x, 3))));
    }

    @Test
    void geluTanhBackwardMatchesFiniteDifferences() {
        try (Arena arena = Arena.ofShared()) {
            Random random = new Random(4);
            int n = 5000;
            double[] values = randomValues(random, n);
            for (int i = 0; i < n; i++) {
                values[i] *= 6;
            }
            Tensor x = Tensor.of(arena, DType.F64, values, n);
            Tensor dy = Tensor.of(arena, DType.F64, randomValues(random, n), n);
            Tensor dx = Tensor.allocate(arena, DType.F64, n);
            backend.geluTanhBackward(dx, dy, x);
            double h = 1e-5;
            double[] expected = new double[n];
            double[] dyv = dy.toDoubleArray();
            for (int i = 0; i < n; i++) {
                expected[i] = dyv[i] * (gelu(values[i] + h) - gelu(values[i] - h)) / (2 * h);
            }
            assertRelativeError(expected, dx.toDoubleArray(), 1e-9, "gelu backward vs central differences");
        }
    }

    @Test
    void softmaxBackwardMatchesFiniteDifferences() {
        // L = Σ w ⊙ softmax(x): dL/dx by central differences against softmaxRowsBackward(dy = w)
        int rows = 5;
        int cols = 17;
        try (Arena arena = Arena.ofShared()) {
            Random random = new Random(5);
            double[] xv = randomValues(random, rows * cols);
            double[] w = randomValues(random, rows * cols);
            Tensor x = Tensor.of(arena, DType.F64, xv, rows, cols);
            Tensor y = Tensor.allocate(arena, DType.F64, rows, cols);
            backend.softmaxRows(y, x);
            Tensor dy = Tensor.of(arena, DType.F64, w, rows, cols);
            Tensor dx = Tensor.allocate(arena, DType.F64, rows, cols);
            backend.softmaxRowsBackward(dx, dy, y);
            double[] expected = finiteDifferences(x, () -> {
                backend.softmaxRows(y, x);
                return backend.dot(y, dy);
            }, 1e-6);
            assertRelativeError(expected, dx.toDoubleArray(), 1e-8, "softmax backward vs central differences");
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BF16", "F16"})
    void copyRoundsToStorageTypesAndBack(DType storage) {
        try (Arena arena = Arena.ofShared()) {
            Random random = new Random(6);
            double[] values = randomValues(random, 10_000);
            Tensor src = Tensor.of(arena, DType.F64, values, 10_000);
            Tensor narrow = Tensor.allocate(arena, storage, 10_000);
            Tensor back = Tensor.allocate(arena, DType.F32, 10_000);
            backend.copy(narrow, src);
            backend.copy(back, narrow);
            MiniFloat codec = storage == DType.BF16 ? MiniFloat.BF16 : MiniFloat.F16;
            double[] expected = new double[values.length];
            for (int i = 0; i < values.length; i++) {
                expected[i] = codec.toDouble(codec.fromDouble(values[i]));
            }
            assertRelativeError(expected, back.toDoubleArray(), 0.0, "copy through " + storage);
        }
    }

    @Test
    void copyFromATransposedViewTransposes() {
        // HF Conv1D weights are stored (in, out); the model wants (out, in): dst[o][i] = stored[i][o]
        for (Memory memory : Memory.values()) {
            try (Arena arena = arena(memory)) {
                Random random = new Random(9);
                int in = 150, out = 70;
                Tensor stored = Tensor.of(arena, DType.BF16, randomValues(random, in * out), in, out);
                Tensor dst = Tensor.allocate(arena, DType.F64, out, in);
                backend.copy(dst, stored.transpose(0, 1));
                double[] s = stored.toDoubleArray();
                double[] expected = new double[in * out];
                for (int o = 0; o < out; o++) {
                    for (int i = 0; i < in; i++) {
                        expected[o * in + i] = s[i * out + o];
                    }
                }
                assertRelativeError(expected, dst.toDoubleArray(), 0.0, "transposing copy " + memory);
            }
        }
    }

    @Test
    void columnSlicesAreProcessedRowByRow() {
        try (Arena arena = Arena.ofShared()) {
            Random random = new Random(8);
            Tensor wide = Tensor.of(arena, DType.F32, randomValues(random, 300 * 50), 300, 50);
            Tensor slice = wide.slice(1, 10, 30);           // (300, 20), row stride 50
            Tensor out = Tensor.allocate(arena, DType.F32, 300, 20);
            backend.geluTanh(out, slice);
            double[] in = slice.toDoubleArray();
            double[] expected = new double[in.length];
            for (int i = 0; i < in.length; i++) {
                expected[i] = gelu(in[i]);
            }
            assertRelativeError(expected, out.toDoubleArray(), 6e-8, "gelu on a column slice");
            var e = assertThrows(IllegalArgumentException.class, () -> backend.geluTanh(out, wide));
            assertTrue(e.getMessage().contains("shape mismatch"), e.getMessage());
        }
    }

    @Test
    void requireFiniteNamesTensorAndFirstBadElement() {
        try (Arena arena = Arena.ofShared()) {
            Tensor t = Tensor.allocate(arena, DType.F64, 100, 300).named("h.2.mlp.c_fc.A");
            backend.requireFinite(t, "test");
            t.set(Double.NaN, 70, 5);
            t.set(Double.NEGATIVE_INFINITY, 99, 299);
            t.set(Double.NaN, 80, 1);
            var e = assertThrows(NonFiniteTensorException.class, () -> backend.requireFinite(t, "eigendecomposition"));
            assertTrue(e.getMessage().contains("'h.2.mlp.c_fc.A'") && e.getMessage().contains("2 NaN")
                    && e.getMessage().contains("1 infinite") && e.getMessage().contains("[70, 5]"), e.getMessage());
        }
    }

    @Test
    void sumOfSquaresMatchesACompensatedSumOverAllTensors() {
        // reference: a Neumaier-compensated double sum of x² over every tensor in list order (a plain running sum of
        // these 715k positive terms is itself off by ~2e-13). F32 widens exactly, so only the kernel's summation
        // order is measured: relative 1e-13 for both dtypes
        eachDtypeAndMemory((dtype, arena) -> {
            Random random = new Random(10);
            Tensor big = Tensor.of(arena, dtype, randomValues(random, ROWS * COLS), ROWS, COLS);
            Tensor vector = Tensor.of(arena, dtype, randomValues(random, 333), 333);
            Tensor wide = Tensor.of(arena, dtype, randomValues(random, 300 * 50), 300, 50);
            List<Tensor> tensors = List.of(big, vector, wide.slice(1, 10, 30));
            double sum = 0;
            double compensation = 0;
            for (Tensor t : tensors) {
                for (double x : t.toDoubleArray()) {
                    double term = x * x;
                    double next = sum + term;
                    compensation += Math.abs(sum) >= term ? (sum - next) + term : (term - next) + sum;
                    sum = next;
                }
            }
            double expected = sum + compensation;
            assertEquals(expected, backend.sumOfSquares(tensors), 1e-13 * expected, "sumOfSquares " + dtype);
            assertEquals(backend.dot(big, big), backend.sumOfSquares(List.of(big)), 0.0, "the block order of dot");
        });
    }

    @Test
    void sumOfSquaresOfNothingIsZeroAndStorageTypesAreRejected() {
        try (Arena arena = Arena.ofShared()) {
            assertEquals(0.0, backend.sumOfSquares(List.of()));
            Tensor half = Tensor.allocate(arena, DType.BF16, 4).named("wte.grad");
            var e = assertThrows(IllegalArgumentException.class,
                    () -> backend.sumOfSquares(List.of(Tensor.allocate(arena, DType.F32, 3), half)));
            assertTrue(e.getMessage().startsWith("sumOfSquares:") && e.getMessage().contains("'wte.grad'"),
                    e.getMessage());
        }
    }

    @Test
    void splitExpKernelsEqualTheFusedFloat64FormulasBitForBit() {
        // reference: the one-loop float64 formulas the kernels had before their exp moved into a loop of its own
        // (tanh(z) = 1 − 2/(e^{2z} + 1); max-shifted log-sum-exp; scale·e^{x − lse}), with the kernels' scalar
        // exponential (ExpKernel.exp: the vector one gives the same bits); F64, so equality is exact. Rows of 3000
        // classes cross the 1024-element exp chunks of the cross-entropy. The log-sum-exp adds its terms in another
        // order than one running sum: it is held to 1e-15 relative, and dLogits to exact given the kernel's lse.
        int rows = 40;
        int classes = 3000;
        Random random = new Random(21);
        try (Arena arena = Arena.ofShared()) {
            double[] xv = randomValues(random, rows * classes);
            for (int i = 0; i < xv.length; i++) {
                xv[i] *= 6;
            }
            Tensor x = Tensor.of(arena, DType.F64, xv, rows, classes);
            Tensor dy = Tensor.of(arena, DType.F64, randomValues(random, rows * classes), rows, classes);
            double[] dyv = dy.toDoubleArray();
            Tensor y = Tensor.allocate(arena, DType.F64, rows, classes);
            backend.geluTanh(y, x);
            double s = Math.sqrt(2.0 / Math.PI);
            double[] gelu = new double[xv.length];
            double[] geluBackward = new double[xv.length];
            for (int i = 0; i < xv.length; i++) {
                double u = xv[i];
                double inner = s * (u + 0.044715 * u * u * u);
                double t = 1.0 - 2.0 / (ExpKernel.exp(2.0 * inner) + 1.0);
                gelu[i] = 0.5 * u * (1.0 + t);
                double dInner = s * (1.0 + 3.0 * 0.044715 * u * u);
                geluBackward[i] = dyv[i] * (0.5 * (1.0 + t) + 0.5 * u * (1.0 - t * t) * dInner);
            }
            assertArrayEquals(gelu, y.toDoubleArray(), "gelu");
            backend.geluTanhBackward(y, dy, x);
            assertArrayEquals(geluBackward, y.toDoubleArray(), "gelu backward");

            int[] labels = new int[rows];
            for (int r = 0; r < rows; r++) {
                labels[r] = r == 3 ? -1 : random.nextInt(classes);
            }
            Tensor targets = Tensor.allocate(arena, DType.I32, rows);
            backend.writeInts(targets, labels);
            Tensor losses = Tensor.allocate(arena, DType.F64, rows);
            Tensor lse = Tensor.allocate(arena, DType.F64, rows);
            backend.crossEntropy(losses, lse, x, targets);
            Tensor dLogits = Tensor.allocate(arena, DType.F64, rows, classes);
            backend.crossEntropyBackward(dLogits, x, lse, targets, 0.25);
            double[] dl = dLogits.toDoubleArray();
            for (int r = 0; r < rows; r++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int c = 0; c < classes; c++) {
                    max = Math.max(max, xv[r * classes + c]);
                }
                double sum = 0;
                for (int c = 0; c < classes; c++) {
                    sum += ExpKernel.exp(xv[r * classes + c] - max);
                }
                double expectedLse = max + Math.log(sum);
                assertEquals(expectedLse, lse.get(r), 1e-15 * Math.abs(expectedLse), "log-sum-exp row " + r);
                double kernelLse = lse.get(r);
                assertEquals(labels[r] < 0 ? 0 : kernelLse - xv[r * classes + labels[r]], losses.get(r), "loss " + r);
                for (int c = 0; c < classes; c++) {
                    double expected = labels[r] < 0 ? 0 : 0.25 * ExpKernel.exp(xv[r * classes + c] - kernelLse)
                            - (c == labels[r] ? 0.25 : 0);
                    assertEquals(expected, dl[r * classes + c], "dLogits " + r + ", " + c);
                }
            }
        }
    }
}
