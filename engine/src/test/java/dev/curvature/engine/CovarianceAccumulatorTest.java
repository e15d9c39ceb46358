package dev.curvature.engine;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.util.Random;

import static dev.curvature.engine.NumericAssertions.assertRelativeError;
import static dev.curvature.engine.NumericAssertions.randomValues;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Covariance accumulation over several batches against a naive Σ_b α_b X_bᵀX_b computed in double from the
 * same (rounded) inputs. Tolerances: F64_EXACT 1e-13 relative (float64 sums either way); F32_WITH_F64_SUMS
 * 1e-6 (one float32 SYRK per batch, k ≤ 300 terms each, then float64 sums).
 */
class CovarianceAccumulatorTest {
    static final CpuBackend backend = SharedCpuBackend.get();

    @ParameterizedTest
    @EnumSource(CovariancePrecision.class)
    void accumulationOverBatchesMatchesNaiveSum(CovariancePrecision precision) {
        int d = 67;
        int[] batchRows = {300, 1, 128, 45};
        double[] alphas = {1.0, 0.5, 2.0, 1.0};
        Random random = new Random(42);
        double[] expected = new double[d * d];
        try (Arena arena = Arena.ofShared();
             CovarianceAccumulator acc = new CovarianceAccumulator(backend, d, precision, "h.0.mlp.c_fc.A")) {
            long rows = 0;
            for (int b = 0; b < batchRows.length; b++) {
                int k = batchRows[b];
                Tensor x = Tensor.of(arena, DType.F32, randomValues(random, k * d), k, d);
                double[] xs = x.toDoubleArray();
                for (int r = 0; r < k; r++) {
                    for (int i = 0; i < d; i++) {
                        for (int j = 0; j < d; j++) {
                            expected[i * d + j] += alphas[b] * xs[r * d + i] * xs[r * d + j];
                        }
                    }
                }
                acc.accumulate(x, alphas[b]);
                rows += k;
            }
            assertEquals(rows, acc.rows());
            Tensor mean = Tensor.allocate(arena, DType.F64, d, d);
            acc.readSymmetric(mean, 1.0);
            double tolerance = precision == CovariancePrecision.F64_EXACT ? 1e-13 : 1e-6;
            assertRelativeError(expected, mean.toDoubleArray(), tolerance, precision.toString());
        }
    }

    @Test
    void tallFloat32BatchesSplitIntoRowBlocksOnTwoThreadsStillMatchTheNaiveSum() {
        // d = 260 on 2 threads: the 600-row batch runs as 2 row blocks, the 300-row one as 1 (fewer than 2·d rows),
        // the 520-row one as 2 again — the scratch is reused across the switches
        int d = 260;
        int[] batchRows = {600, 300, 520};
        Random random = new Random(11);
        double[] expected = new double[d * d];
        try (CpuBackend threaded = new CpuBackend(2); Arena arena = Arena.ofShared();
             CovarianceAccumulator acc = new CovarianceAccumulator(threaded, d, CovariancePrecision.F32_WITH_F64_SUMS,
                     "h.0.mlp.c_proj.A")) {
            assertEquals(2, threaded.syrkRowBlocks(600, d));
            assertEquals(1, threaded.syrkRowBlocks(300, d));
            for (int k : batchRows) {
                Tensor x = Tensor.of(arena, DType.F32, randomValues(random, k * d), k, d);
                double[] xs = x.toDoubleArray();
                for (int r = 0; r < k; r++) {
                    for (int i = 0; i < d; i++) {
                        for (int j = 0; j < d; j++) {
                            expected[i * d + j] += 0.5 * xs[r * d + i] * xs[r * d + j];
                        }
                    }
                }
                acc.accumulate(x, 0.5);
            }
            assertEquals(1420, acc.rows());
            Tensor sum = Tensor.allocate(arena, DType.F64, d, d);
            acc.readSymmetric(sum, 1.0);
            assertRelativeError(expected, sum.toDoubleArray(), 1e-6, "row-block sums");
        }
    }

    @Test
    void accumulatorsSharingOneScratchGiveTheSameSumsAsAccumulatorsWithTheirOwn() {
        // a small sum, a large one, then the small one again: the shared buffer grows once and serves both
        int small = 20;
        int large = 45;
        Random random = new Random(3);
        try (Arena arena = Arena.ofShared(); CovarianceScratch shared = new CovarianceScratch(backend);
             var aShared = new CovarianceAccumulator(backend, small, CovariancePrecision.F32_WITH_F64_SUMS, "a", shared);
             var gShared = new CovarianceAccumulator(backend, large, CovariancePrecision.F32_WITH_F64_SUMS, "g", shared);
             var aOwn = new CovarianceAccumulator(backend, small, CovariancePrecision.F32_WITH_F64_SUMS, "a");
             var gOwn = new CovarianceAccumulator(backend, large, CovariancePrecision.F32_WITH_F64_SUMS, "g")) {
            for (int step = 0; step < 3; step++) {
                Tensor x = Tensor.of(arena, DType.F32, randomValues(random, 30 * small), 30, small);
                Tensor dy = Tensor.of(arena, DType.F32, randomValues(random, 30 * large), 30, large);
                aShared.accumulate(x, 1.0);
                gShared.accumulate(dy, 2.0);
                aOwn.accumulate(x, 1.0);
                gOwn.accumulate(dy, 2.0);
            }
            assertEquals((long) large * large, shared.capacity());
            Tensor s1 = Tensor.allocate(arena, DType.F64, large, large);
            Tensor s2 = Tensor.allocate(arena, DType.F64, large, large);
            gShared.readSymmetric(s1, 1.0);
            gOwn.readSymmetric(s2, 1.0);
            assertArrayEquals(s2.toDoubleArray(), s1.toDoubleArray(), "G with a shared scratch");
            Tensor t1 = Tensor.allocate(arena, DType.F64, small, small);
            Tensor t2 = Tensor.allocate(arena, DType.F64, small, small);
            aShared.readSymmetric(t1, 1.0);
            aOwn.readSymmetric(t2, 1.0);
            assertArrayEquals(t2.toDoubleArray(), t1.toDoubleArray(), "A with a shared scratch");
        }
    }

    @Test
    void float64BatchesAreExactInBothModes() {
        int d = 40;
        Random random = new Random(7);
        try (Arena arena = Arena.ofShared();
             CovarianceAccumulator acc = new CovarianceAccumulator(backend, d, CovariancePrecision.F32_WITH_F64_SUMS,
                     "g")) {
            double[] values = randomValues(random, 90 * d);
            acc.accumulate(Tensor.of(arena, DType.F64, values, 90, d), 1.0);
            double[] expected = new double[d * d];
            for (int r = 0; r < 90; r++) {
                for (int i = 0; i < d; i++) {
                    for (int j = 0; j < d; j++) {
                        expected[i * d + j] += values[r * d + i] * values[r * d + j] / 90.0;
                    }
                }
            }
            Tensor mean = Tensor.allocate(arena, DType.F64, d, d);
            acc.readSymmetric(mean, 1.0 / acc.rows());
            assertRelativeError(expected, mean.toDoubleArray(), 1e-13, "F64 input");
        }
    }

    @Test
    void shardsAddToTheSameSumAsOneRun() {
        int d = 16;
        Random random = new Random(3);
        try (Arena arena = Arena.ofShared();
             var whole = new CovarianceAccumulator(backend, d, CovariancePrecision.F64_EXACT, "whole");
             var first = new CovarianceAccumulator(backend, d, CovariancePrecision.F64_EXACT, "first");
             var second = new CovarianceAccumulator(backend, d, CovariancePrecision.F64_EXACT, "second")) {
            Tensor x1 = Tensor.of(arena, DType.F32, randomValues(random, 50 * d), 50, d);
            Tensor x2 = Tensor.of(arena, DType.F32, randomValues(random, 70 * d), 70, d);
            whole.accumulate(x1, 1.0);
            whole.accumulate(x2, 1.0);
            first.accumulate(x1, 1.0);
            second.accumulate(x2, 1.0);
            first.add(second);
            assertEquals(whole.rows(), first.rows());
            Tensor a = Tensor.allocate(arena, DType.F64, d, d);
            Tensor b = Tensor.allocate(arena, DType.F64, d, d);
            whole.readSymmetric(a, 1.0);
            first.readSymmetric(b, 1.0);
            assertRelativeError(a.toDoubleArray(), b.toDoubleArray(), 1e-15, "shards");
        }
    }

    @Test
    void wrongBatchWidthNamesTheFactor() {
        try (Arena arena = Arena.ofShared();
             var acc = new CovarianceAccumulator(backend, 8, CovariancePrecision.F64_EXACT, "h.3.mlp.c_proj.G")) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> acc.accumulate(Tensor.allocate(arena, DType.F32, 4, 9), 1.0));
            assertTrue(e.getMessage().contains("h.3.mlp.c_proj.G"), e.getMessage());
        }
    }
}
