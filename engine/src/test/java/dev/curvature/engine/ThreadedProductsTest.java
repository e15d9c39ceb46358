package dev.curvature.engine;

import dev.curvature.bindings.openblas.OpenBlas;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.util.Random;

import static dev.curvature.engine.NumericAssertions.assertRelativeError;
import static dev.curvature.engine.NumericAssertions.naiveGemm;
import static dev.curvature.engine.NumericAssertions.randomValues;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The products CpuBackend splits across its own threads, each calling single-threaded OpenBLAS: SYRK in column
 * bands, SYRK in row blocks (with the pass that sums the blocks) and small batched GEMMs. Shared memory (confined memory runs on the calling thread and would not test the
 * split), 2 and 3 threads (odd band counts), sizes that are not multiples of the band alignment; each checked
 * against a float64 naive loop, with the untouched parts and OpenBLAS's thread count checked afterwards.
 */
class ThreadedProductsTest {
    @ParameterizedTest(name = "{0} n={1} k={2} threads={3}")
    @CsvSource({"F32, 300, 37, 2", "F32, 300, 37, 3", "F64, 515, 20, 2", "F64, 257, 64, 3", "F32, 256, 1, 2"})
    void bandedSyrkMatchesNaiveUpperTriangleAndLeavesTheLowerOne(DType dtype, int n, int k, int threads) {
        Random random = new Random(n * 31L + k);
        double alpha = 0.7;
        double beta = 1.0;
        try (CpuBackend backend = new CpuBackend(threads); Arena arena = Arena.ofShared()) {
            double[] x = randomValues(random, k * n);
            double[] c0 = randomValues(random, n * n);
            Tensor xt = Tensor.of(arena, dtype, x, k, n);
            Tensor ct = Tensor.of(arena, dtype, c0, n, n);
            double[] c0Stored = ct.toDoubleArray();          // c0 as the dtype holds it
            backend.syrkUpper(ct, xt, alpha, beta);
            double[] expected = naiveGemm(xt.toDoubleArray(), true, xt.toDoubleArray(), false, c0Stored, n, n, k,
                    alpha, beta);
            double[] actual = ct.toDoubleArray();
            double[] expectedUpper = new double[n * (n + 1) / 2];
            double[] actualUpper = new double[expectedUpper.length];
            int at = 0;
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    if (j >= i) {
                        expectedUpper[at] = expected[i * n + j];
                        actualUpper[at++] = actual[i * n + j];
                    } else {
                        // strictly below the diagonal: SYRK's contract is to leave it alone
                        assertEquals(c0Stored[i * n + j], actual[i * n + j], 0.0,
                                "lower element (" + i + ", " + j + ") was written");
                    }
                }
            }
            assertRelativeError(expectedUpper, actualUpper, dtype == DType.F64 ? 1e-13 : 1e-5, "upper triangle");
            assertEquals(threads, OpenBlas.get().numThreads(), "OpenBLAS thread count after the banded SYRK");
        }
    }

    @ParameterizedTest(name = "{0} n={1} k={2} blocks={3} threads={4}")
    @CsvSource({"F32, 300, 601, 2, 2", "F64, 260, 7, 3, 3", "F32, 256, 50, 3, 2", "F32, 64, 9, 2, 1",
            "F64, 33, 3, 3, 2"})
    void rowBlockSyrkMatchesNaivePerBlockAndLeavesTheLowerTriangles(DType dtype, int n, int k, int blocks,
                                                                    int threads) {
        Random random = new Random(n * 17L + k + blocks);
        double alpha = 1.5;
        double beta = 0.5;
        try (CpuBackend backend = new CpuBackend(threads); Arena arena = Arena.ofShared()) {
            Tensor xt = Tensor.of(arena, dtype, randomValues(random, k * n), k, n);
            Tensor ct = Tensor.of(arena, dtype, randomValues(random, blocks * n * n), blocks, n, n);
            double[] x = xt.toDoubleArray();
            double[] c0 = ct.toDoubleArray();
            backend.syrkUpper(ct, xt, alpha, beta);
            double[] actual = ct.toDoubleArray();
            for (int b = 0; b < blocks; b++) {
                // block b: rows [⌊b·k/p⌋, ⌊(b+1)·k/p⌋), the contract's split
                int r0 = b * k / blocks;
                int r1 = (b + 1) * k / blocks;
                double[] expectedUpper = new double[n * (n + 1) / 2];
                double[] actualUpper = new double[expectedUpper.length];
                int at = 0;
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < n; j++) {
                        int e = b * n * n + i * n + j;
                        if (j < i) {
                            assertEquals(c0[e], actual[e], 0.0, "block " + b + " lower (" + i + ", " + j + ")");
                            continue;
                        }
                        double dot = 0;
                        for (int r = r0; r < r1; r++) {
                            dot += x[r * n + i] * x[r * n + j];
                        }
                        expectedUpper[at] = alpha * dot + beta * c0[e];
                        actualUpper[at++] = actual[e];
                    }
                }
                assertRelativeError(expectedUpper, actualUpper, dtype == DType.F64 ? 1e-13 : 1e-5,
                        "upper triangle of block " + b);
            }
            assertEquals(threads, OpenBlas.get().numThreads(), "OpenBLAS thread count after the row-block SYRK");
            Tensor tooMany = Tensor.allocate(arena, dtype, k + 1, n, n);
            var refused = assertThrows(IllegalArgumentException.class, () -> backend.syrkUpper(tooMany, xt, 1, 0));
            assertTrue(refused.getMessage().contains("fewer rows than the " + (k + 1) + " row blocks"),
                    refused.getMessage());
        }
    }

    @ParameterizedTest(name = "blocks={0} threads={1}")
    @CsvSource({"1, 2", "2, 2", "3, 3", "4, 1"})
    void addUpperOfBlocksAddsTheirFloat64SumToTheUpperTriangleOnly(int blocks, int threads) {
        int n = 70;
        Random random = new Random(blocks * 5L + threads);
        try (CpuBackend backend = new CpuBackend(threads); Arena arena = Arena.ofShared()) {
            Tensor src = Tensor.of(arena, DType.F32, randomValues(random, blocks * n * n), blocks, n, n);
            Tensor dst = Tensor.of(arena, DType.F64, randomValues(random, n * n), n, n);
            double[] s = src.toDoubleArray();
            double[] d0 = dst.toDoubleArray();
            backend.addUpper(dst, src, -0.25);
            double[] actual = dst.toDoubleArray();
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    double sum = 0;
                    for (int b = 0; b < blocks; b++) {
                        sum += s[b * n * n + i * n + j];
                    }
                    double expected = j >= i ? d0[i * n + j] - 0.25 * sum : d0[i * n + j];
                    assertEquals(expected, actual[i * n + j], 1e-14 * (1 + Math.abs(expected)),
                            "(" + i + ", " + j + ")");
                }
            }
        }
    }

    @ParameterizedTest(name = "threads={0} rows={1} n={2} -> {3}")
    @CsvSource({"2, 512, 256, 2", "2, 511, 256, 1", "1, 100000, 768, 1", "3, 2304, 768, 3", "2, 100000, 255, 1"})
    void rowBlocksAreOnePerThreadWhenEveryBlockHasAtLeastNRows(int threads, long rows, long n, int expected) {
        assertEquals(expected, CpuBackend.syrkRowBlocks(threads, rows, n));
        try (CpuBackend backend = new CpuBackend(threads)) {
            assertEquals(expected, backend.syrkRowBlocks(rows, n));
        }
    }

    @ParameterizedTest(name = "batch={0} threads={1} opA={2} opB={3} beta={4}")
    @CsvSource({"5, 2, NONE, TRANSPOSED, 0.0", "5, 3, TRANSPOSED, NONE, 1.0", "2, 2, NONE, NONE, 1.0",
            "7, 3, TRANSPOSED, TRANSPOSED, 0.5"})
    void smallBatchedProductsOnePerThreadMatchNaiveLoop(int batch, int threads, Transpose opA, Transpose opB,
                                                        double beta) {
        // head slices of packed rows, as attention passes them: strided operands in both dimensions
        int m = 11, n = 9, k = 6, packed = 3;
        Random random = new Random(batch * 7L + threads);
        try (CpuBackend backend = new CpuBackend(threads); Arena arena = Arena.ofShared()) {
            long aRows = opA == Transpose.NONE ? m : k;
            long aCols = opA == Transpose.NONE ? k : m;
            long bRows = opB == Transpose.NONE ? k : n;
            long bCols = opB == Transpose.NONE ? n : k;
            Tensor aPacked = Tensor.of(arena, DType.F32, randomValues(random, (int) (batch * aRows * aCols * packed)),
                    batch, aRows, aCols * packed);
            Tensor bPacked = Tensor.of(arena, DType.F32, randomValues(random, (int) (batch * bRows * bCols * packed)),
                    batch, bRows, bCols * packed);
            Tensor a = aPacked.slice(2, aCols, 2 * aCols);
            Tensor b = bPacked.slice(2, 2 * bCols, 3 * bCols);
            double[] c0 = randomValues(random, batch * m * n);
            Tensor c = Tensor.of(arena, DType.F32, c0, batch, m, n);
            Tensor before = Tensor.of(arena, DType.F32, c0, batch, m, n);
            backend.gemmBatched(c, a, opA, b, opB, 0.25, beta);
            for (int i = 0; i < batch; i++) {
                double[] start = before.select(0, i).toDoubleArray();
                double[] expected = naiveGemm(a.select(0, i).toDoubleArray(), opA == Transpose.TRANSPOSED,
                        b.select(0, i).toDoubleArray(), opB == Transpose.TRANSPOSED, start, m, n, k, 0.25, beta);
                assertRelativeError(expected, c.select(0, i).toDoubleArray(), 1e-5, "batch entry " + i);
            }
            assertEquals(threads, OpenBlas.get().numThreads(), "OpenBLAS thread count after the batched products");
        }
    }

    @ParameterizedTest(name = "threads={0}")
    @CsvSource({"1", "2", "3"})
    void fourDimensionalHeadViewsMatchNaiveLoop(int threads) {
        // scores (B, H, T, T) = Q Kᵀ per (batch, head), Q and K heads cut from packed (B, T, 2·H·hs) rows by
        // split + transpose, as attention does
        int batches = 2, heads = 3, t = 5, hs = 4;
        Random random = new Random(threads);
        try (CpuBackend backend = new CpuBackend(threads); Arena arena = Arena.ofShared()) {
            Tensor qk = Tensor.of(arena, DType.F32, randomValues(random, batches * t * 2 * heads * hs), batches, t,
                    2 * heads * hs);
            Tensor q = qk.slice(2, 0, heads * hs).split(2, heads, hs).transpose(1, 2);          // (B, H, T, hs)
            Tensor k = qk.slice(2, heads * hs, 2 * heads * hs).split(2, heads, hs).transpose(1, 2);
            Tensor scores = Tensor.allocate(arena, DType.F32, batches, heads, t, t);
            backend.gemmBatched(scores, q, Transpose.NONE, k, Transpose.TRANSPOSED, 0.5, 0.0);
            for (int b = 0; b < batches; b++) {
                for (int h = 0; h < heads; h++) {
                    double[] expected = naiveGemm(q.select(0, b).select(0, h).toDoubleArray(), false,
                            k.select(0, b).select(0, h).toDoubleArray(), true, new double[t * t], t, t, hs, 0.5, 0.0);
                    assertRelativeError(expected, scores.select(0, b).select(0, h).toDoubleArray(), 1e-5,
                            "batch " + b + " head " + h);
                }
            }
        }
    }
}
