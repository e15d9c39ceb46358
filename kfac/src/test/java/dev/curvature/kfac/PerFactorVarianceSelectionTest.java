package dev.curvature.kfac;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The per-factor variance rule. References: a naive cumulative-ratio loop, and hand-worked small spectra. */
class PerFactorVarianceSelectionTest {

    /** Naive reference: the smallest r with (v_0 + … + v_{r−1}) / Σv ≥ ρ, in double. */
    private static int naiveRank(double[] values, double rho) {
        double total = 0;
        for (double v : values) {
            total += v;
        }
        double cumulative = 0;
        for (int r = 0; r <= values.length; r++) {
            if (r > 0) {
                cumulative += values[r - 1];
            }
            if (cumulative / total >= rho) {
                return r;
            }
        }
        return values.length;
    }

    @Test
    void ranksMatchTheNaiveCumulativeRatioLoop() {
        // reference: naiveRank on smooth random spectra (no exact mass boundaries there); tolerance: equal ranks
        Random random = new Random(5);
        for (int c = 0; c < 500; c++) {
            double[] lambda = CurvatureMassSelectionTest.powerLaw(random, 1 + random.nextInt(200), random.nextDouble());
            double[] mu = CurvatureMassSelectionTest.powerLaw(random, 1 + random.nextInt(200), random.nextDouble());
            double rhoG = 0.01 + 0.98 * random.nextDouble();
            double rhoA = 0.01 + 0.98 * random.nextDouble();
            PerFactorVarianceSelection selection = PerFactorVarianceSelection.select(lambda, mu, rhoG, rhoA);
            assertEquals(naiveRank(lambda, rhoG), selection.gRank(), "case " + c);
            assertEquals(naiveRank(mu, rhoA), selection.aRank(), "case " + c);
        }
    }

    @Test
    void maskIsTheRectangleOfTheTwoRanks() {
        // hand-worked: λ = (4, 3, 2, 1), ρ_G = 0.7 → 4+3 = 7 ≥ 7 → r_G = 2; μ = (5, 3, 2), ρ_A = 0.5 → 5 ≥ 5 → r_A = 1
        double[] lambda = {4, 3, 2, 1};
        double[] mu = {5, 3, 2};
        PerFactorVarianceSelection selection = PerFactorVarianceSelection.select(lambda, mu, 0.7, 0.5);
        assertEquals(2, selection.gRank());
        assertEquals(1, selection.aRank());
        for (int i = 0; i < lambda.length; i++) {
            for (int j = 0; j < mu.length; j++) {
                assertEquals(i < 2 && j < 1, selection.kept().contains(i, j), "(" + i + ", " + j + ")");
            }
        }
        assertEquals(2, selection.kept().pairCount());
        assertEquals(2, selection.kept().gEigenvectorsUsed());
        assertEquals(1, selection.kept().aEigenvectorsUsed());
        assertEquals(7 * 5, selection.keptMass());
        assertEquals(10 * 10, selection.totalMass());
    }

    @Test
    void exactEqualityWithTheTargetStopsThere() {
        // four equal values: ρ = 0.5 is reached exactly at r = 2; anything above needs r = 3
        double[] values = {1, 1, 1, 1};
        assertEquals(2, PerFactorVarianceSelection.varianceRank(values, 0.5));
        assertEquals(3, PerFactorVarianceSelection.varianceRank(values, 0.5000001));
    }

    @Test
    void rhoZeroKeepsNothingAndRhoOneKeepsEveryEigenvector() {
        double[] lambda = {3, 1, 0};
        double[] mu = {2, 0};
        PerFactorVarianceSelection none = PerFactorVarianceSelection.select(lambda, mu, 0, 0);
        assertEquals(0, none.kept().pairCount());
        PerFactorVarianceSelection all = PerFactorVarianceSelection.select(lambda, mu, 1, 1);
        assertEquals(3, all.gRank());
        assertEquals(2, all.aRank());
        assertEquals(6, all.kept().pairCount());
        // a zero rank on one side empties the rectangle whatever the other side keeps
        PerFactorVarianceSelection oneSided = PerFactorVarianceSelection.select(lambda, mu, 1, 0);
        assertEquals(0, oneSided.kept().pairCount());
        assertEquals(0, oneSided.kept().gEigenvectorsUsed());
    }

    @Test
    void anAllZeroFactorKeepsNoneOfItsEigenvectorsBelowRhoOne() {
        assertEquals(0, PerFactorVarianceSelection.varianceRank(new double[] {0, 0, 0}, 0.9));
    }

    @Test
    void badFractionsAndSpectraAreRefusedNamingThem() {
        IllegalArgumentException rho = assertThrows(IllegalArgumentException.class,
                () -> PerFactorVarianceSelection.select(new double[] {1}, new double[] {1}, 0.5, Double.NaN));
        assertTrue(rho.getMessage().contains("rhoA = NaN"), rho.getMessage());
        IllegalArgumentException unsorted = assertThrows(IllegalArgumentException.class,
                () -> PerFactorVarianceSelection.select(new double[] {1, 2}, new double[] {1}, 0.5, 0.5));
        assertTrue(unsorted.getMessage().contains("lambda") && unsorted.getMessage().contains("[1] = 2.0"),
                unsorted.getMessage());
    }
}
