package dev.curvature.kfac;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.engine.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.Random;

import static dev.curvature.engine.NumericAssertions.randomValues;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The two controls of the curvature edit. SVD truncation against a planted SVD (W = U Σ Vᵀ with U, V products of
 * Householder reflections, so the best rank-r approximation U_r Σ_r V_rᵀ is known in closed form); the random
 * component set against exact counts and inclusion frequencies; the edit of a scattered set against the naive sum
 * Σ_S C_ij u_i v_jᵀ.
 */
class ControlEditsTest {
    static final CpuBackend backend = SharedCpuBackend.get();

    /** An n×n orthogonal matrix (row-major): the product of n random Householder reflections I − 2hhᵀ/hᵀh. */
    static double[] orthogonal(int n, Random random) {
        double[] q = new double[n * n];
        for (int i = 0; i < n; i++) {
            q[i * n + i] = 1;
        }
        for (int k = 0; k < n; k++) {
            double[] h = randomValues(random, n);
            double hh = 0;
            for (double x : h) {
                hh += x * x;
            }
            double[] next = new double[n * n];
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;   // (Q (I − 2hhᵀ/hᵀh))_ij
                    for (int m = 0; m < n; m++) {
                        s += q[i * n + m] * ((m == j ? 1 : 0) - 2 * h[m] * h[j] / hh);
                    }
                    next[i * n + j] = s;
                }
            }
            q = next;
        }
        return q;
    }

    /** Σ_{k<rank} σ_k u_k v_kᵀ from U (p×p), V (q×q), row-major. */
    static double[] partialSum(double[] u, double[] sigma, double[] v, int p, int q, int rank) {
        double[] w = new double[p * q];
        for (int k = 0; k < rank; k++) {
            for (int i = 0; i < p; i++) {
                for (int j = 0; j < q; j++) {
                    w[i * q + j] += sigma[k] * u[i * p + k] * v[j * q + k];
                }
            }
        }
        return w;
    }

    @Test
    void svdTruncationIsTheBestRankRApproximationOfAPlantedSvd() {
        Random random = new Random(3);
        for (int[] shape : new int[][]{{9, 6}, {6, 9}, {7, 7}}) {
            int p = shape[0];
            int q = shape[1];
            int full = Math.min(p, q);
            double[] sigma = new double[full];
            for (int k = 0; k < full; k++) {
                sigma[k] = 5.0 * Math.pow(0.6, k);   // distinct, well separated
            }
            double[] u = orthogonal(p, random);
            double[] v = orthogonal(q, random);
            try (Arena arena = Arena.ofConfined()) {
                Tensor w = Tensor.of(arena, DType.F64, partialSum(u, sigma, v, p, q, full), p, q);
                for (int rank : new int[]{0, 1, 3, full}) {
                    Tensor out = Tensor.allocate(arena, DType.F64, p, q);
                    SvdTruncation.Report report = SvdTruncation.apply(backend, "layer", out, w, rank);
                    double[] expected = partialSum(u, sigma, v, p, q, rank);
                    double[] got = out.toDoubleArray();
                    for (int i = 0; i < got.length; i++) {
                        assertEquals(expected[i], got[i], 1e-12, p + "×" + q + " rank " + rank + " at " + i);
                    }
                    double all = 0;
                    double kept = 0;
                    for (int k = 0; k < full; k++) {
                        all += sigma[k] * sigma[k];
                        kept += k < rank ? sigma[k] * sigma[k] : 0;
                    }
                    assertEquals(kept / all, report.energyKept(), 1e-12);
                    assertEquals(Math.sqrt((all - kept) / all), report.relativeChange(), 1e-12);
                    assertEquals(rank, report.rank());
                    assertEquals(full, report.fullRank());
                }
            }
        }
    }

    @Test
    void svdTruncationRefusesARankAboveTheFullRank() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = Tensor.allocate(arena, DType.F64, 4, 3);
            var e = assertThrows(IllegalArgumentException.class,
                    () -> SvdTruncation.apply(backend, "h.0.mlp.c_fc", w, w, 4));
            assertTrue(e.getMessage().contains("h.0.mlp.c_fc") && e.getMessage().contains("[0, 3]"), e.getMessage());
        }
    }

    @Test
    void randomComponentsHaveTheExactCountAndUniformInclusion() {
        int rows = 5;
        int columns = 4;
        int count = 7;
        int draws = 4000;
        int[] hits = new int[rows * columns];
        for (int seed = 0; seed < draws; seed++) {
            ScatteredComponents s = ScatteredComponents.random(rows, columns, count, seed);
            assertEquals(count, s.count());
            int seen = 0;
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < columns; j++) {
                    if (s.contains(i, j)) {
                        hits[i * columns + j]++;
                        seen++;
                    }
                }
            }
            assertEquals(count, seen);
        }
        // each pair is in the set with probability 7/20; binomial sd over 4000 draws ≈ 30, so ±5 sd = ±151
        double expected = draws * (double) count / (rows * columns);
        for (int k = 0; k < hits.length; k++) {
            assertTrue(Math.abs(hits[k] - expected) < 151, "pair " + k + " drawn " + hits[k] + " times, expected "
                    + expected);
        }
        ScatteredComponents a = ScatteredComponents.random(30, 20, 123, 9);
        ScatteredComponents b = ScatteredComponents.random(30, 20, 123, 9);
        ScatteredComponents c = ScatteredComponents.random(30, 20, 123, 10);
        boolean same = true;
        boolean differs = false;
        for (int i = 0; i < 30; i++) {
            for (int j = 0; j < 20; j++) {
                same &= a.contains(i, j) == b.contains(i, j);
                differs |= a.contains(i, j) != c.contains(i, j);
            }
        }
        assertTrue(same, "same seed, same set");
        assertTrue(differs, "another seed, another set");
        assertEquals(0, ScatteredComponents.random(3, 3, 0, 1).count());
        assertEquals(9, ScatteredComponents.random(3, 3, 9, 1).count());
        assertEquals(3, ScatteredComponents.random(3, 3, 9, 1).rowsUsed());
        ScatteredComponents firstColumn = ScatteredComponents.of(4, 3, (i, j) -> j == 0 && i != 2);
        assertEquals(3, firstColumn.count());
        assertEquals(3, firstColumn.rowsUsed());
        assertEquals(1, firstColumn.columnsUsed());
        assertThrows(IllegalArgumentException.class, () -> ScatteredComponents.random(3, 3, 10, 1));
    }

    @Test
    void editOfAScatteredSetEqualsTheNaiveComponentSum() {
        int dOut = 8;
        int dIn = 6;
        try (Arena arena = Arena.ofShared()) {
            KroneckerFactors factors = CurvatureEditTest.randomFactors(arena, dOut, dIn, 5);
            try (FactorEigenbasis basis = FactorEigenbasis.of(backend, factors)) {
                Tensor w = Tensor.of(arena, DType.F64, randomValues(new Random(6), dOut * dIn), dOut, dIn);
                ScatteredComponents kept = ScatteredComponents.random(dOut, dIn, 17, 4);
                Tensor out = Tensor.allocate(arena, DType.F64, dOut, dIn);
                CurvatureEdit.LayerReport report = CurvatureEdit.apply(backend, out, w, basis, kept);

                double[] lambda = basis.gradientEigenvalues();
                double[] mu = basis.activationEigenvalues();
                double[] expected = CurvatureEditTest.naiveComponentSum(basis, w, kept::contains);
                double mass = 0;
                for (int i = 0; i < dOut; i++) {
                    for (int j = 0; j < dIn; j++) {
                        mass += kept.contains(i, j) ? lambda[i] * mu[j] : 0;
                    }
                }
                double[] got = out.toDoubleArray();
                for (int k = 0; k < got.length; k++) {
                    assertEquals(expected[k], got[k], 1e-12, "element " + k);
                }
                double lambdaSum = 0;
                double muSum = 0;
                for (double l : lambda) {
                    lambdaSum += l;
                }
                for (double m : mu) {
                    muSum += m;
                }
                assertEquals(mass / (lambdaSum * muSum), report.massKept(), 1e-12);
                assertEquals(17, report.pairsKept());
                assertEquals((long) dOut * dIn, report.pairsTotal());

                // the same set as a staircase mask gives the same weight: one rebuild, two ways to mask
                ComponentMask staircase = CurvatureMassSelection.keep(lambda, mu, 0.8).kept();
                Tensor viaMask = CurvatureEditTest.edit(arena, w, basis, staircase);
                ScatteredComponents asScattered = scatteredOf(staircase);
                Tensor viaBits = Tensor.allocate(arena, DType.F64, dOut, dIn);
                CurvatureEdit.apply(backend, viaBits, w, basis, asScattered);
                assertArrayEquals(viaMask.toDoubleArray(), viaBits.toDoubleArray(), 1e-15);
                assertNotEquals(0, staircase.pairCount());
            }
        }
    }

    /** The pairs of {@code mask} as a scattered set (one bit per pair). */
    private static ScatteredComponents scatteredOf(ComponentMask mask) {
        return ScatteredComponents.of(mask.rows(), mask.columns(), mask::contains);
    }
}
