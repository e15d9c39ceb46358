package dev.curvature.kfac;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The EK-FAC selection against a naive reference: every pair boxed, sorted by (Λ descending, row-major index
 * ascending), and the shortest prefix reaching ρ·ΣΛ (or the first k) taken by a plain loop.
 */
class CorrectedMassSelectionTest {
    /** Λ with many exact ties (values from a small set) and zeros. */
    static double[] tiedValues(int rows, int columns, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        double[] out = new double[rows * columns];
        for (int k = 0; k < out.length; k++) {
            out[k] = random.nextInt(6) * 0.25;
        }
        return out;
    }

    static List<Integer> naiveOrder(double[] lambda) {
        List<Integer> order = new ArrayList<>();
        for (int k = 0; k < lambda.length; k++) {
            order.add(k);
        }
        order.sort(Comparator.<Integer>comparingDouble(k -> -lambda[k]).thenComparingInt(k -> k));
        return order;
    }

    static boolean[] naiveKeep(double[] lambda, double rho) {
        List<Integer> order = naiveOrder(lambda);
        double total = 0;
        for (int k : order) {
            total += lambda[k];
        }
        boolean[] in = new boolean[lambda.length];
        double mass = 0;
        for (int n = 0; n < order.size() && (rho == 1.0 || mass < rho * total); n++) {
            in[order.get(n)] = true;
            mass += lambda[order.get(n)];
        }
        return in;
    }

    static void assertSame(boolean[] expected, ScatteredComponents got, String what) {
        int columns = got.columns();
        long count = 0;
        for (int k = 0; k < expected.length; k++) {
            assertEquals(expected[k], got.contains(k / columns, k % columns), what + " at " + k);
            count += expected[k] ? 1 : 0;
        }
        assertEquals(count, got.count(), what);
    }

    @Test
    void keepIsTheShortestPrefixOfTheNaiveOrderWithTiesInRowMajorOrder() {
        for (long seed = 1; seed <= 4; seed++) {
            double[] lambda = seed % 2 == 0 ? tiedValues(7, 5, seed) : new SplittableRandom(seed).doubles(35).toArray();
            for (double rho : new double[]{0, 0.1, 0.37, 0.5, 0.9, 0.999, 1.0}) {
                CorrectedMassSelection kept = CorrectedMassSelection.keep(lambda, 7, 5, rho);
                boolean[] expected = naiveKeep(lambda, rho);
                assertSame(expected, kept.kept(), "seed " + seed + " ρ " + rho);
                double mass = 0;
                for (int k = 0; k < lambda.length; k++) {
                    mass += expected[k] ? lambda[k] : 0;
                }
                assertEquals(mass, kept.keptMass(), 1e-12 * kept.totalMass());
                assertTrue(rho == 0 || kept.keptMass() >= rho * kept.totalMass() * (1 - 1e-15));

                CorrectedMassSelection ablated = CorrectedMassSelection.ablate(lambda, 7, 5, rho);
                boolean[] complement = new boolean[expected.length];
                for (int k = 0; k < expected.length; k++) {
                    complement[k] = !expected[k];
                }
                assertSame(complement, ablated.kept(), "ablate seed " + seed + " ρ " + rho);
            }
        }
    }

    @Test
    void zerosAreNeverSelectedBelowRhoOneAndTopTakesTheFirstKOfTheNaiveOrder() {
        double[] lambda = tiedValues(6, 4, 11);
        int zeros = 0;
        for (double v : lambda) {
            zeros += v == 0 ? 1 : 0;
        }
        assertTrue(zeros > 0, "the draw has zeros");
        assertEquals(24 - zeros, CorrectedMassSelection.keep(lambda, 6, 4, 0.9999999).kept().count());
        assertEquals(24, CorrectedMassSelection.keep(lambda, 6, 4, 1.0).kept().count());
        List<Integer> order = naiveOrder(lambda);
        for (int k : new int[]{0, 1, 5, 13, 24}) {
            boolean[] expected = new boolean[lambda.length];
            for (int n = 0; n < k; n++) {
                expected[order.get(n)] = true;
            }
            assertSame(expected, CorrectedMassSelection.top(lambda, 6, 4, k), "top " + k);
        }
    }

    @Test
    void badInputIsRefusedNamingTheValue() {
        var negative = assertThrows(IllegalArgumentException.class,
                () -> CorrectedMassSelection.keep(new double[]{1, -2, 3, 4}, 2, 2, 0.5));
        assertTrue(negative.getMessage().contains("Λ[0, 1] = -2.0"), negative.getMessage());
        assertThrows(IllegalArgumentException.class, () -> CorrectedMassSelection.keep(new double[]{1, 2, 3}, 2, 2, 0.5));
        assertThrows(IllegalArgumentException.class, () -> CorrectedMassSelection.keep(new double[]{1, 2, 3, 4}, 2, 2,
                1.5));
        assertThrows(IllegalArgumentException.class, () -> CorrectedMassSelection.top(new double[]{1, 2, 3, 4}, 2, 2,
                5));
    }
}
