package dev.curvature.engine;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.util.Random;
import java.util.stream.Stream;

import static dev.curvature.engine.NumericAssertions.assertRelativeError;
import static dev.curvature.engine.NumericAssertions.naiveGemm;
import static dev.curvature.engine.NumericAssertions.randomValues;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** GEMM against a naive triple loop in double. Tolerance: relative Frobenius 1e-5 (F32), 1e-12 (F64). */
class GemmTest {
    static final CpuBackend backend = SharedCpuBackend.get();

    static Stream<Arguments> cases() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (DType dtype : new DType[]{DType.F32, DType.F64}) {
            for (Transpose ta : Transpose.values()) {
                for (Transpose tb : Transpose.values()) {
                    b.add(Arguments.of(dtype, ta, tb, 37, 53, 71, 1.0, 0.0));
                    b.add(Arguments.of(dtype, ta, tb, 129, 7, 300, -0.5, 2.0));
                    b.add(Arguments.of(dtype, ta, tb, 1, 64, 5, 3.0, 1.0));
                }
            }
        }
        return b.build();
    }

    @ParameterizedTest(name = "{0} op(A)={1} op(B)={2} m={3} n={4} k={5} alpha={6} beta={7}")
    @MethodSource("cases")
    void gemmMatchesNaiveLoop(DType dtype, Transpose ta, Transpose tb, int m, int n, int k, double alpha, double beta) {
        Random random = new Random(m * 31L + n * 7L + k);
        boolean transA = ta == Transpose.TRANSPOSED;
        boolean transB = tb == Transpose.TRANSPOSED;
        double[] a = randomValues(random, m * k);
        double[] b = randomValues(random, k * n);
        double[] c = randomValues(random, m * n);
        try (Arena arena = Arena.ofConfined()) {
            Tensor ta2 = Tensor.of(arena, dtype, a, transA ? k : m, transA ? m : k);
            Tensor tb2 = Tensor.of(arena, dtype, b, transB ? n : k, transB ? k : n);
            Tensor tc = Tensor.of(arena, dtype, c, m, n);
            // the reference sees exactly the values the backend sees (after rounding to the dtype)
            double[] expected = naiveGemm(ta2.toDoubleArray(), transA, tb2.toDoubleArray(), transB,
                    tc.toDoubleArray(), m, n, k, alpha, beta);
            backend.gemm(tc, ta2, ta, tb2, tb, alpha, beta);
            assertRelativeError(expected, tc.toDoubleArray(), dtype == DType.F32 ? 1e-5 : 1e-12, "gemm");
        }
    }

    @Test
    void transposedViewsAndColumnSlicesNeedNoCopy() {
        // A stored (k, m) and passed as a transposed view (m, k); B a column slice of a wider matrix.
        int m = 19, n = 23, k = 31;
        Random random = new Random(5);
        try (Arena arena = Arena.ofConfined()) {
            Tensor aStored = Tensor.of(arena, DType.F64, randomValues(random, k * m), k, m);
            Tensor wide = Tensor.of(arena, DType.F64, randomValues(random, k * (n + 10)), k, n + 10);
            Tensor bSlice = wide.slice(1, 4, 4 + n);
            Tensor c = Tensor.allocate(arena, DType.F64, m, n);
            backend.gemm(c, aStored.transpose(0, 1), Transpose.NONE, bSlice, Transpose.NONE, 1.0, 0.0);
            double[] expected = naiveGemm(aStored.toDoubleArray(), true, bSlice.toDoubleArray(), false,
                    new double[m * n], m, n, k, 1.0, 0.0);
            assertRelativeError(expected, c.toDoubleArray(), 1e-12, "gemm with views");
        }
    }

    @Test
    void batchedGemmMatchesPerBatchNaiveLoop() {
        // attention shape: scores (B·H, T, T) = Q (B·H, T, hs) · K(B·H, T, hs)ᵀ, with Q and K cut from one QKV buffer
        int batches = 3, t = 9, hs = 8;
        Random random = new Random(11);
        try (Arena arena = Arena.ofConfined()) {
            Tensor qk = Tensor.of(arena, DType.F32, randomValues(random, batches * t * 2 * hs), batches, t, 2 * hs);
            Tensor q = qk.slice(2, 0, hs);
            Tensor k = qk.slice(2, hs, 2 * hs);
            Tensor scores = Tensor.allocate(arena, DType.F32, batches, t, t);
            backend.gemmBatched(scores, q, Transpose.NONE, k, Transpose.TRANSPOSED, 0.5, 0.0);
            for (int i = 0; i < batches; i++) {
                double[] expected = naiveGemm(q.select(0, i).toDoubleArray(), false, k.select(0, i).toDoubleArray(),
                        true, new double[t * t], t, t, hs, 0.5, 0.0);
                assertRelativeError(expected, scores.select(0, i).toDoubleArray(), 1e-5, "batch " + i);
            }
        }
    }

    @Test
    void betaZeroIgnoresNaNInOutput() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor a = Tensor.of(arena, DType.F32, new double[]{1, 2, 3, 4}, 2, 2);
            Tensor c = Tensor.of(arena, DType.F32, new double[]{Double.NaN, 1, 1, 1}, 2, 2);
            backend.gemm(c, a, Transpose.NONE, a, Transpose.NONE, 1.0, 0.0);
            assertEquals(7.0, c.get(0, 0)); // [1 2; 3 4]² = [7 10; 15 22]
            assertEquals(22.0, c.get(1, 1));
        }
    }

    @Test
    void mismatchedShapesNameBothTensors() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor a = Tensor.allocate(arena, DType.F32, 3, 4).named("left");
            Tensor b = Tensor.allocate(arena, DType.F32, 5, 6).named("right");
            Tensor c = Tensor.allocate(arena, DType.F32, 3, 6).named("out");
            var e = assertThrows(IllegalArgumentException.class,
                    () -> backend.gemm(c, a, Transpose.NONE, b, Transpose.NONE, 1, 0));
            assertTrue(e.getMessage().contains("left") && e.getMessage().contains("right"), e.getMessage());
            Tensor d = Tensor.allocate(arena, DType.F64, 4, 6).named("double");
            var mixed = assertThrows(IllegalArgumentException.class,
                    () -> backend.gemm(c, a, Transpose.NONE, d, Transpose.NONE, 1, 0));
            assertTrue(mixed.getMessage().contains("double"), mixed.getMessage());
        }
    }

    @Test
    void aBackendReassertsItsThreadCountAfterAnotherChangedIt() {
        // OpenBLAS's thread count is global: a 1-thread backend made later must not leave this one at 1 thread
        try (CpuBackend single = new CpuBackend(1); Arena arena = Arena.ofConfined()) {
            assertEquals(1, dev.curvature.bindings.openblas.OpenBlas.get().numThreads());
            Tensor a = Tensor.of(arena, DType.F64, new double[]{1, 2, 3, 4}, 2, 2);
            Tensor c = Tensor.allocate(arena, DType.F64, 2, 2);
            backend.gemm(c, a, Transpose.NONE, a, Transpose.NONE, 1.0, 0.0);
            assertEquals(2, dev.curvature.bindings.openblas.OpenBlas.get().numThreads());
            assertEquals(22.0, c.get(1, 1));   // [1 2; 3 4]² = [7 10; 15 22]
        }
    }
}
