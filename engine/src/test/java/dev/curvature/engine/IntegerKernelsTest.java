package dev.curvature.engine;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Random;
import java.util.SplittableRandom;

import static dev.curvature.engine.NumericAssertions.intValues;
import static dev.curvature.engine.NumericAssertions.randomValues;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Kernels with integer results or operands: host ↔ I32 transfers, the row argmax and the seeded softmax sampling.
 * References are naive loops written here (for the sampling, a literal copy of the K-FAC collector's loop);
 * integer results must match exactly.
 */
class IntegerKernelsTest {
    static final CpuBackend backend = SharedCpuBackend.get();
    static final DType[] COMPUTE = {DType.F32, DType.F64};

    // ---- host ↔ tensor integers ---------------------------------------------------------------------------------

    @Test
    void writeIntsThenReadIntsRoundTripsEveryInt() {
        int[] values = {0, -1, 7, Integer.MAX_VALUE, Integer.MIN_VALUE, 50256, -100, 3};
        try (Arena arena = Arena.ofShared()) {
            Tensor t = Tensor.allocate(arena, DType.I32, 2, 4);
            backend.writeInts(t, values);
            assertArrayEquals(values, intValues(t), "element reads of what writeInts wrote");
            assertArrayEquals(values, backend.readInts(t));
            Tensor row = t.select(0, 1);           // a contiguous view at an offset
            assertArrayEquals(Arrays.copyOfRange(values, 4, 8), backend.readInts(row));
            backend.writeInts(row, new int[]{9, 8, 7, 6});
            assertArrayEquals(new int[]{0, -1, 7, Integer.MAX_VALUE, 9, 8, 7, 6}, backend.readInts(t));
        }
    }

    @Test
    void intTransfersRejectOtherDtypesLengthsAndStridedViews() {
        try (Arena arena = Arena.ofShared()) {
            Tensor floats = Tensor.allocate(arena, DType.F32, 3).named("targets");
            Tensor ints = Tensor.allocate(arena, DType.I32, 3).named("ids");
            Tensor grid = Tensor.allocate(arena, DType.I32, 3, 2).named("grid");
            var dtype = assertThrows(IllegalArgumentException.class, () -> backend.writeInts(floats, new int[3]));
            assertTrue(dtype.getMessage().startsWith("writeInts:") && dtype.getMessage().contains("'targets'"),
                    dtype.getMessage());
            var length = assertThrows(IllegalArgumentException.class, () -> backend.writeInts(ints, new int[4]));
            assertTrue(length.getMessage().startsWith("writeInts:") && length.getMessage().contains("'ids'")
                    && length.getMessage().contains("4 elements"), length.getMessage());
            var strided = assertThrows(IllegalArgumentException.class, () -> backend.readInts(grid.transpose(0, 1)));
            assertTrue(strided.getMessage().startsWith("readInts:") && strided.getMessage().contains("'grid'"),
                    strided.getMessage());
        }
    }

    // ---- argmax ------------------------------------------------------------------------------------------------

    @Test
    void rowArgmaxMatchesNaiveLoopWithTiesToTheLowestIndex() {
        // values on a coarse grid (17 levels) so that most rows have tied maxima; 200 × 500 runs threaded
        int n = 200, c = 500;
        Random random = new Random(41);
        for (DType dtype : COMPUTE) {
            try (Arena arena = Arena.ofShared()) {
                double[] values = randomValues(random, n * c);
                for (int i = 0; i < values.length; i++) {
                    values[i] = Math.floor(values[i] * 8);
                }
                Tensor x = Tensor.of(arena, dtype, values, n, c);
                Tensor out = Tensor.allocate(arena, DType.I32, n);
                backend.rowArgmax(out, x);
                int[] expected = new int[n];
                for (int r = 0; r < n; r++) {
                    int best = 0;
                    for (int i = 1; i < c; i++) {
                        if (values[r * c + i] > values[r * c + best]) {
                            best = i;
                        }
                    }
                    expected[r] = best;
                }
                assertArrayEquals(expected, backend.readInts(out), "argmax " + dtype);
            }
        }
    }

    @Test
    void rowArgmaxNeverPicksNaNAndGivesZeroForAllNaNRows() {
        double nan = Double.NaN;
        double inf = Double.POSITIVE_INFINITY;
        double[][] rows = {
            {nan, 1, 3, 3},        // NaN first: the largest non-NaN, lowest on ties
            {1, nan, 5, nan},
            {nan, nan, nan, nan},  // nothing to pick: 0
            {-inf, -inf, -inf, -inf},
            {nan, -inf, nan, -inf},
            {2, inf, nan, inf},
        };
        int[] expected = {2, 2, 0, 0, 1, 1};
        try (Arena arena = Arena.ofShared()) {
            double[] flat = Arrays.stream(rows).flatMapToDouble(Arrays::stream).toArray();
            for (DType dtype : COMPUTE) {
                Tensor x = Tensor.of(arena, dtype, flat, rows.length, 4);
                Tensor out = Tensor.allocate(arena, DType.I32, rows.length);
                backend.rowArgmax(out, x);
                assertArrayEquals(expected, backend.readInts(out), "argmax with NaN " + dtype);
            }
        }
    }

    @Test
    void rowArgmaxRejectsWrongOutputNamingTheOp() {
        try (Arena arena = Arena.ofShared()) {
            Tensor x = Tensor.allocate(arena, DType.F32, 5, 3).named("logits");
            Tensor floatOut = Tensor.allocate(arena, DType.F32, 5).named("next");
            Tensor shortOut = Tensor.allocate(arena, DType.I32, 4).named("next");
            for (Tensor out : new Tensor[]{floatOut, shortOut}) {
                var e = assertThrows(IllegalArgumentException.class, () -> backend.rowArgmax(out, x));
                assertTrue(e.getMessage().startsWith("rowArgmax:") && e.getMessage().contains("'next'")
                        && e.getMessage().contains("'logits'"), e.getMessage());
            }
            Tensor emptyRows = Tensor.allocate(arena, DType.F32, 5, 0);
            var empty = assertThrows(IllegalArgumentException.class,
                    () -> backend.rowArgmax(Tensor.allocate(arena, DType.I32, 5), emptyRows));
            assertTrue(empty.getMessage().startsWith("rowArgmax:") && empty.getMessage().contains("empty"),
                    empty.getMessage());
        }
    }

    // ---- sampling ----------------------------------------------------------------------------------------------

    /**
     * A literal copy of {@code KfacCollector.sampleLabels} (kfac module), with the logits as a host tensor and the
     * stream made from its seed: the reference the backend must reproduce bit for bit.
     */
    static int[] collectorSampleLabels(Tensor logits, int[] gold, long streamSeed) {
        SplittableRandom random = new SplittableRandom(streamSeed);
        int[] sampled = new int[gold.length];
        int v = (int) logits.dim(1);
        double[] row = new double[v];
        for (int i = 0; i < gold.length; i++) {
            if (gold[i] < 0) {
                sampled[i] = -1;
                continue;
            }
            logits.readRow(i, row);
            double max = Double.NEGATIVE_INFINITY;
            for (double x : row) {
                max = Math.max(max, x);
            }
            double total = 0;
            for (int j = 0; j < v; j++) {
                row[j] = Math.exp(row[j] - max);
                total += row[j];
            }
            double u = random.nextDouble() * total;
            int pick = v - 1;
            for (int j = 0; j < v; j++) {
                u -= row[j];
                if (u < 0) {
                    pick = j;
                    break;
                }
            }
            sampled[i] = pick;
        }
        return sampled;
    }

    @Test
    void sampleSoftmaxRowsReproducesTheCollectorLoopBitForBit() {
        int n = 300, v = 257;
        Random random = new Random(51);
        for (DType dtype : COMPUTE) {
            try (Arena arena = Arena.ofShared()) {
                double[] values = randomValues(random, n * v);
                for (int i = 0; i < values.length; i++) {
                    values[i] *= 1 + (i / v) % 4 * 5;  // rows from flat (scale 1) to peaked (scale 16)
                }
                Tensor logits = Tensor.of(arena, dtype, values, n, v);
                int[] gold = new int[n];
                for (int i = 0; i < n; i++) {
                    gold[i] = i % 5 == 2 || i % 11 == 0 ? -1 : random.nextInt(v);   // masked rows draw nothing
                }
                Tensor mask = Tensor.allocate(arena, DType.I32, n);
                backend.writeInts(mask, gold);
                Tensor out = Tensor.allocate(arena, DType.I32, n);
                for (long seed : new long[]{0, 1, 0x9E3779B97F4A7C15L * 7 + 3, -42}) {
                    backend.sampleSoftmaxRows(out, logits, mask, seed);
                    int[] expected = collectorSampleLabels(logits, gold, seed);
                    int[] actual = backend.readInts(out);
                    assertArrayEquals(expected, actual, "samples " + dtype + " seed " + seed);
                    assertTrue(Arrays.stream(actual).distinct().count() > 50, "the draws are spread out");
                }
            }
        }
    }

    @Test
    void sampleSoftmaxRowsMayWriteIntoItsMask() {
        int n = 20, v = 9;
        try (Arena arena = Arena.ofShared()) {
            Tensor logits = Tensor.of(arena, DType.F64, randomValues(new Random(52), n * v), n, v);
            int[] gold = new int[n];
            for (int i = 0; i < n; i++) {
                gold[i] = i % 3 == 0 ? -1 : 0;
            }
            Tensor maskAndOut = Tensor.allocate(arena, DType.I32, n);
            backend.writeInts(maskAndOut, gold);
            backend.sampleSoftmaxRows(maskAndOut, logits, maskAndOut, 99);
            assertArrayEquals(collectorSampleLabels(logits, gold, 99), backend.readInts(maskAndOut));
        }
    }

    @Test
    void sampleSoftmaxRowsRejectsWrongMaskNamingTheOp() {
        try (Arena arena = Arena.ofShared()) {
            Tensor logits = Tensor.allocate(arena, DType.F32, 6, 10).named("logits");
            Tensor out = Tensor.allocate(arena, DType.I32, 6);
            Tensor floatMask = Tensor.allocate(arena, DType.F32, 6).named("mask");
            Tensor shortMask = Tensor.allocate(arena, DType.I32, 5).named("mask");
            for (Tensor mask : new Tensor[]{floatMask, shortMask}) {
                var e = assertThrows(IllegalArgumentException.class,
                        () -> backend.sampleSoftmaxRows(out, logits, mask, 1));
                assertTrue(e.getMessage().startsWith("sampleSoftmaxRows:") && e.getMessage().contains("'mask'"),
                        e.getMessage());
            }
        }
    }

    // ---- top-k -------------------------------------------------------------------------------------------------

    @Test
    void rowTopKMatchesAFullSortWithTiesToTheLowerIndexAndNaNLast() {
        // reference: every index of the row sorted by (value descending, NaN last, index ascending), first k kept
        Random random = new Random(4);
        int rows = 300, cols = 97, k = 10;
        double[] values = new double[rows * cols];
        for (int i = 0; i < values.length; i++) {
            values[i] = random.nextInt(5) == 0 ? random.nextInt(4) : random.nextGaussian();   // many ties
            if (random.nextInt(50) == 0) {
                values[i] = Double.NaN;
            }
        }
        for (int c = 0; c < cols; c++) {
            values[c] = Double.NaN;       // row 0: NaN everywhere but a few entries
        }
        values[5] = 1.0;
        values[40] = 1.0;
        for (DType dtype : COMPUTE) {
            try (Arena arena = Arena.ofShared()) {
                Tensor x = Tensor.of(arena, dtype, values, rows, cols);
                Tensor out = Tensor.allocate(arena, DType.I32, rows, k);
                backend.rowTopK(out, x);
                int[] got = backend.readInts(out);
                double[] stored = x.toDoubleArray();
                for (int r = 0; r < rows; r++) {
                    final int row = r;
                    Integer[] order = new Integer[cols];
                    for (int c = 0; c < cols; c++) {
                        order[c] = c;
                    }
                    Arrays.sort(order, (a, b) -> {
                        double va = stored[row * cols + a];
                        double vb = stored[row * cols + b];
                        boolean na = Double.isNaN(va);
                        boolean nb = Double.isNaN(vb);
                        if (na != nb) {
                            return na ? 1 : -1;
                        }
                        int byValue = na ? 0 : Double.compare(vb, va);
                        return byValue != 0 ? byValue : Integer.compare(a, b);
                    });
                    for (int j = 0; j < k; j++) {
                        assertEquals(order[j], got[r * k + j], dtype + " row " + r + " rank " + j);
                    }
                }
                assertEquals(5, got[0]);
                assertEquals(40, got[1]);
                assertEquals(0, got[2]);          // then the NaNs, lowest index first
            }
        }
    }

    @Test
    void rowTopKRejectsAnOutputWiderThanTheRowNamingTheOp() {
        try (Arena arena = Arena.ofShared()) {
            Tensor x = Tensor.allocate(arena, DType.F32, 2, 3).named("logits");
            Tensor out = Tensor.allocate(arena, DType.I32, 2, 4);
            var e = assertThrows(IllegalArgumentException.class, () -> backend.rowTopK(out, x));
            assertTrue(e.getMessage().startsWith("rowTopK:") && e.getMessage().contains("k <= 3"), e.getMessage());
        }
    }
}
