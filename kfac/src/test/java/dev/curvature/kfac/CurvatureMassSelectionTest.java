package dev.curvature.kfac;

import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The pairwise product selection. Main reference: {@link HeapPairSelection}, the reference code's heap
 * enumeration with exact BigDecimal products and sums and the same (i, j) tie order; pair sets must be equal,
 * ties included. Other references: exact BigDecimal sums over the returned mask, and hand-worked small cases.
 */
class CurvatureMassSelectionTest {
    private static final int RANDOM_CASES = 2000;

    /** One random case of the heap comparison, described well enough to reproduce it. */
    private record Case(int index, double[] lambda, double[] mu, double rho) {
        @Override
        public String toString() {
            return "case " + index + ": rho=" + rho + " lambda=" + Arrays.toString(lambda) + " mu="
                    + Arrays.toString(mu);
        }
    }

    private static Case randomCase(Random random, int index) {
        double[] lambda = RandomSpectra.spectrum(random, 1 + random.nextInt(60));
        double[] mu = RandomSpectra.spectrum(random, 1 + random.nextInt(60));
        return new Case(index, lambda, mu, RandomSpectra.rho(random));
    }

    @Test
    void bisectionSelectsExactlyTheHeapPairsOnRandomSpectra() {
        // reference: HeapPairSelection (exact heap enumeration); tolerance: identical pair sets and counts, kept mass
        // within relative 1e-12 of the exact heap mass (the selection sums in double)
        Random random = new Random(20251024);
        int partialTieFills = 0;
        int emptyOrFull = 0;
        for (int c = 0; c < RANDOM_CASES; c++) {
            Case k = randomCase(random, c);
            CurvatureMassSelection selection = CurvatureMassSelection.keep(k.lambda, k.mu, k.rho);
            HeapPairSelection.Result heap = HeapPairSelection.select(k.lambda, k.mu, k.rho);
            int p = k.lambda.length;
            int q = k.mu.length;
            int rowsUsed = 0;
            boolean[] columnUsed = new boolean[q];
            for (int i = 0; i < p; i++) {
                boolean rowUsed = false;
                for (int j = 0; j < q; j++) {
                    if (selection.contains(i, j) != heap.selected()[i][j]) {
                        fail("pair (" + i + ", " + j + ") differs: bisection " + selection.contains(i, j) + ", heap "
                                + heap.selected()[i][j] + "; " + k);
                    }
                    rowUsed |= heap.selected()[i][j];
                    columnUsed[j] |= heap.selected()[i][j];
                }
                rowsUsed += rowUsed ? 1 : 0;
            }
            int columnsUsed = 0;
            for (boolean used : columnUsed) {
                columnsUsed += used ? 1 : 0;
            }
            long count = heap.count();
            assertEquals(count, selection.keptPairs(), k::toString);
            assertEquals((double) count / ((double) p * q), selection.keptPairFraction(), 1e-15, k::toString);
            assertEquals(rowsUsed, selection.gEigenvectorsUsed(), k::toString);
            assertEquals(columnsUsed, selection.aEigenvectorsUsed(), k::toString);
            double exactMass = heap.mass().doubleValue();
            assertEquals(exactMass, selection.keptMass(), 1e-12 * exactMass + 1e-300, k::toString);
            if (count > 0) {
                assertEquals(k.lambda[heap.lastRow()] * k.mu[heap.lastColumn()], selection.boundary().product(),
                        k::toString);
            }
            CurvatureMassSelection.Boundary boundary = selection.boundary();
            if (boundary.tiedSelected() > 0 && boundary.tiedSelected() < boundary.tiedPairs()) {
                partialTieFills++;
            }
            if (count == 0 || count == (long) p * q) {
                emptyOrFull++;
            }
        }
        // the generator must exercise the interesting cases, not only the easy ones
        assertTrue(partialTieFills >= 200, "cases that stop inside a tie class: " + partialTieFills);
        assertTrue(emptyOrFull < RANDOM_CASES / 2, "empty or full selections: " + emptyOrFull);
    }

    @Test
    void selectionIsMinimal() {
        // reference: exact BigDecimal mass of the returned mask and its smallest product; mass ≥ T, and dropping the
        // smallest kept pair falls below T (ρ = 1 keeps everything by convention and is left out)
        Random random = new Random(7);
        for (int c = 0; c < 500; c++) {
            Case k = randomCase(random, c);
            if (k.rho == 1) {
                continue;
            }
            CurvatureMassSelection selection = CurvatureMassSelection.keep(k.lambda, k.mu, k.rho);
            BigDecimal target = new BigDecimal(HeapPairSelection.target(k.lambda, k.mu, k.rho));
            BigDecimal mass = BigDecimal.ZERO;
            BigDecimal total = BigDecimal.ZERO;
            BigDecimal smallest = null;
            for (int i = 0; i < k.lambda.length; i++) {
                for (int j = 0; j < k.mu.length; j++) {
                    BigDecimal product = HeapPairSelection.product(k.lambda, k.mu, i, j);
                    total = total.add(product);
                    if (selection.contains(i, j)) {
                        mass = mass.add(product);
                        smallest = smallest == null || product.compareTo(smallest) < 0 ? product : smallest;
                    }
                }
            }
            if (total.compareTo(target) < 0) {
                assertEquals((long) k.lambda.length * k.mu.length, selection.keptPairs(),
                        "a target above the whole mass keeps every pair; " + k);
                continue;
            }
            assertTrue(mass.compareTo(target) >= 0, "mass below target; " + k);
            if (smallest != null) {
                assertTrue(mass.subtract(smallest).compareTo(target) < 0, "not minimal; " + k);
            }
        }
    }

    @Test
    void keepAndAblateAtTheSameRhoPartitionThePairs() {
        // reference: the two masks pair by pair; masses add up to M within relative 1e-12
        Random random = new Random(11);
        for (int c = 0; c < 300; c++) {
            Case k = randomCase(random, c);
            CurvatureMassSelection keep = CurvatureMassSelection.keep(k.lambda, k.mu, k.rho);
            CurvatureMassSelection ablate = CurvatureMassSelection.ablate(k.lambda, k.mu, k.rho);
            for (int i = 0; i < k.lambda.length; i++) {
                for (int j = 0; j < k.mu.length; j++) {
                    int row = i;
                    int column = j;
                    assertTrue(keep.contains(i, j) != ablate.contains(i, j),
                            () -> "(" + row + ", " + column + "); " + k);
                }
            }
            assertEquals((long) k.lambda.length * k.mu.length, keep.keptPairs() + ablate.keptPairs(), k::toString);
            assertEquals(keep.kept().complement(), ablate.kept(), k::toString);
            assertEquals(keep.totalMass(), keep.keptMass() + ablate.keptMass(), 1e-12 * keep.totalMass() + 1e-300,
                    k::toString);
            assertEquals(keep.boundary(), ablate.boundary(), k::toString);
        }
    }

    @Test
    void rhoZeroSelectsNothing() {
        double[] lambda = {3, 2, 1};
        double[] mu = {5, 4};
        CurvatureMassSelection keep = CurvatureMassSelection.keep(lambda, mu, 0);
        assertEquals(0, keep.keptPairs());
        assertEquals(0, keep.keptMass());
        assertEquals(0, keep.gEigenvectorsUsed());
        assertEquals(0, keep.aEigenvectorsUsed());
        assertEquals(new CurvatureMassSelection.Boundary(Double.POSITIVE_INFINITY, 0, 0), keep.boundary());
        CurvatureMassSelection ablate = CurvatureMassSelection.ablate(lambda, mu, 0);
        assertEquals(6, ablate.keptPairs());
        assertEquals(6 * 9, ablate.keptMass());
    }

    @Test
    void rhoOneKeepsEveryPairIncludingZeroCurvature() {
        // zero eigenvalues give zero-curvature pairs that the mass rule alone would never need
        double[] lambda = {3, 2, 0};
        double[] mu = {5, 0, 0};
        CurvatureMassSelection keep = CurvatureMassSelection.keep(lambda, mu, 1);
        assertEquals(9, keep.keptPairs());
        assertEquals(1.0, keep.keptPairFraction());
        assertEquals(3, keep.gEigenvectorsUsed());
        assertEquals(3, keep.aEigenvectorsUsed());
        assertEquals(25, keep.keptMass());
        // the boundary is the smallest product, 0, shared by the 7 pairs with a zero factor
        assertEquals(new CurvatureMassSelection.Boundary(0, 7, 7), keep.boundary());
        assertEquals(0, CurvatureMassSelection.ablate(lambda, mu, 1).keptPairs());
    }

    @Test
    void zeroCurvaturePairsAreNeverSelectedBelowRhoOne() {
        double[] lambda = {3, 2, 0, 0};
        double[] mu = {5, 1, 0};
        CurvatureMassSelection selection = CurvatureMassSelection.keep(lambda, mu, 1 - 1e-12);
        for (int i = 0; i < lambda.length; i++) {
            for (int j = 0; j < mu.length; j++) {
                assertEquals(lambda[i] * mu[j] > 0, selection.contains(i, j), "(" + i + ", " + j + ")");
            }
        }
        assertEquals(2, selection.gEigenvectorsUsed());
        assertEquals(2, selection.aEigenvectorsUsed());
    }

    @Test
    void zeroTotalMassSelectsNothingBelowRhoOne() {
        double[] lambda = {0, 0};
        double[] mu = {4, 1};
        assertEquals(0, CurvatureMassSelection.keep(lambda, mu, 0.9).keptPairs());
        assertEquals(4, CurvatureMassSelection.keep(lambda, mu, 1).keptPairs());
    }

    @Test
    void allEqualEigenvaluesFillTiesRowByRow() {
        // hand-worked: 3×4 products all 1, M = 12; ρ = 0.5 → T = 6 → six pairs, row 0 whole, row 1 columns 0 and 1
        double[] lambda = {1, 1, 1};
        double[] mu = {1, 1, 1, 1};
        CurvatureMassSelection half = CurvatureMassSelection.keep(lambda, mu, 0.5);
        assertEquals(6, half.keptPairs());
        assertEquals(4, half.kept().rowEnd(0));
        assertEquals(2, half.kept().rowEnd(1));
        assertEquals(0, half.kept().rowEnd(2));
        assertEquals(new CurvatureMassSelection.Boundary(1, 12, 6), half.boundary());
        assertEquals(2, half.gEigenvectorsUsed());
        assertEquals(4, half.aEigenvectorsUsed());
        // ρ = 0.1 → T = fl(0.1·12) = 1.2000000000000002 → two pairs
        CurvatureMassSelection tenth = CurvatureMassSelection.keep(lambda, mu, 0.1);
        assertEquals(2, tenth.keptPairs());
        assertTrue(tenth.contains(0, 0) && tenth.contains(0, 1) && !tenth.contains(1, 0));
    }

    @Test
    void tiesAreFilledWithinTheirClassOnlyAfterLargerProducts() {
        // hand-worked: products (rows λ = 2, 1, 1; columns μ = 2, 1): 4 2 / 2 1 / 2 1, M = 4·3 = 12.
        // ρ = 0.5 → T = 6: take 4, then the tie class {2} in (i, j) order: (0,1) → 6 ≥ 6, stop.
        double[] lambda = {2, 1, 1};
        double[] mu = {2, 1};
        CurvatureMassSelection selection = CurvatureMassSelection.keep(lambda, mu, 0.5);
        assertEquals(2, selection.keptPairs());
        assertTrue(selection.contains(0, 0) && selection.contains(0, 1));
        assertFalse(selection.contains(1, 0) || selection.contains(2, 0));
        assertEquals(new CurvatureMassSelection.Boundary(2, 3, 1), selection.boundary());
        // ρ = 0.6 → T = 7.2: 4 + 2 + 2 = 8 → (0,0), (0,1), (1,0)
        CurvatureMassSelection more = CurvatureMassSelection.keep(lambda, mu, 0.6);
        assertEquals(3, more.keptPairs());
        assertTrue(more.contains(1, 0) && !more.contains(2, 0));
    }

    @Test
    void massExactlyAtTheTargetStopsThere() {
        // hand-worked: four products 1, M = 4, ρ = 0.5 → T = 2, reached exactly by two pairs
        CurvatureMassSelection selection = CurvatureMassSelection.keep(new double[] {1, 1}, new double[] {1, 1}, 0.5);
        assertEquals(2, selection.keptPairs());
        assertEquals(2, selection.keptMass());
    }

    @Test
    void targetIsTheDoubleProductOfRhoAndTotalMass() {
        // M = 5·2 = 10 and fl(0.1·10) = 1: one unit pair reaches it (the real 0.1000000000000000055·10 would need two)
        double[] lambda = {1, 1, 1, 1, 1};
        double[] mu = {1, 1};
        assertEquals(1, CurvatureMassSelection.keep(lambda, mu, 0.1).keptPairs());
    }

    @Test
    void productsWithinOneUlpAreOrderedExactly() {
        // λ = (1+2⁻⁵¹, 1+2⁻⁵²), μ = (1+2⁻⁵², 1). Exact products: (0,0) = 1+3·2⁻⁵²+2⁻¹⁰³, (1,0) = 1+2⁻⁵¹+2⁻¹⁰⁴,
        // (0,1) = 1+2⁻⁵¹, (1,1) = 1+2⁻⁵². (1,0) and (0,1) round to the same double, but (1,0) is larger, so it
        // comes first even though (0,1) is first in (i, j) order. ρ = 0.4 needs two pairs.
        double[] lambda = {1 + 0x1p-51, 1 + 0x1p-52};
        double[] mu = {1 + 0x1p-52, 1};
        assertEquals(lambda[1] * mu[0], lambda[0] * mu[1]);
        CurvatureMassSelection selection = CurvatureMassSelection.keep(lambda, mu, 0.4);
        assertEquals(2, selection.keptPairs());
        assertTrue(selection.contains(0, 0) && selection.contains(1, 0));
        assertFalse(selection.contains(0, 1));
        assertEquals(1, selection.boundary().tiedPairs());
    }

    @Test
    void singleRowAndSingleColumnSpectra() {
        // hand-worked: products 8, 6, 4, 2 (M = 20); ρ = 0.5 → T = 10 → 8 + 6
        CurvatureMassSelection row = CurvatureMassSelection.keep(new double[] {2}, new double[] {4, 3, 2, 1}, 0.5);
        assertEquals(2, row.keptPairs());
        assertTrue(row.contains(0, 1) && !row.contains(0, 2));
        assertEquals(1, row.gEigenvectorsUsed());
        assertEquals(2, row.aEigenvectorsUsed());
        CurvatureMassSelection column = CurvatureMassSelection.keep(new double[] {4, 3, 2, 1}, new double[] {2}, 0.5);
        assertEquals(2, column.keptPairs());
        assertTrue(column.contains(1, 0) && !column.contains(2, 0));
        assertEquals(2, column.gEigenvectorsUsed());
        assertEquals(1, column.aEigenvectorsUsed());
        CurvatureMassSelection single = CurvatureMassSelection.keep(new double[] {3}, new double[] {0.5}, 0.3);
        assertEquals(1, single.keptPairs());
    }

    @Test
    void layerSizedPowerLawSelectionIsMinimal() {
        // p = 11008, q = 4096 as an OLMo-7B MLP projection; reference: exact BigDecimal mass of the returned
        // staircase (row i keeps columns [0, rowEnd(i))) and of its smallest product
        Random random = new Random(3);
        double[] lambda = powerLaw(random, 11008, 0.8);
        double[] mu = powerLaw(random, 4096, 0.6);
        CurvatureMassSelection selection = CurvatureMassSelection.keep(lambda, mu, 0.6);
        BigDecimal[] muPrefix = new BigDecimal[mu.length + 1];
        muPrefix[0] = BigDecimal.ZERO;
        for (int j = 0; j < mu.length; j++) {
            muPrefix[j + 1] = muPrefix[j].add(new BigDecimal(mu[j]));
        }
        BigDecimal mass = BigDecimal.ZERO;
        BigDecimal smallest = null;
        long pairs = 0;
        for (int i = 0; i < lambda.length; i++) {
            int end = selection.kept().rowEnd(i);
            assertEquals(0, selection.kept().rowStart(i));
            pairs += end;
            if (end > 0) {
                mass = mass.add(new BigDecimal(lambda[i]).multiply(muPrefix[end]));
                BigDecimal last = HeapPairSelection.product(lambda, mu, i, end - 1);
                smallest = smallest == null || last.compareTo(smallest) < 0 ? last : smallest;
            }
        }
        BigDecimal target = new BigDecimal(HeapPairSelection.target(lambda, mu, 0.6));
        assertEquals(pairs, selection.keptPairs());
        assertTrue(pairs > 1_000_000, "pairs kept: " + pairs);
        assertTrue(mass.compareTo(target) >= 0);
        assertTrue(mass.subtract(smallest).compareTo(target) < 0);
        assertEquals(mass.doubleValue(), selection.keptMass(), 1e-12 * mass.doubleValue());
    }

    @Test
    void layerSizedAllEqualSpectraFillTiesWithoutEnumeratingThem() {
        // 45 million pairs with product 1: T = fl(0.6·45088768) = 27053260.8 → 27053261 pairs, i.e. 6604 full rows
        // of 4096 and 3277 columns of the next row
        double[] lambda = new double[11008];
        double[] mu = new double[4096];
        Arrays.fill(lambda, 1);
        Arrays.fill(mu, 1);
        CurvatureMassSelection selection = CurvatureMassSelection.keep(lambda, mu, 0.6);
        long expected = (long) Math.ceil(0.6 * (11008.0 * 4096.0));
        assertEquals(27053261, expected);
        assertEquals(expected, selection.keptPairs());
        assertEquals(4096, selection.kept().rowEnd((int) (expected / 4096) - 1));
        assertEquals(expected % 4096, selection.kept().rowEnd((int) (expected / 4096)));
        assertEquals(0, selection.kept().rowEnd((int) (expected / 4096) + 1));
        assertEquals(new CurvatureMassSelection.Boundary(1, 11008L * 4096, expected), selection.boundary());
    }

    @Test
    void rhoOutsideTheUnitIntervalIsRefusedNamingTheValue() {
        double[] lambda = {2, 1};
        double[] mu = {1};
        for (double rho : new double[] {Double.NaN, -0.1, 1.5, Double.POSITIVE_INFINITY}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> CurvatureMassSelection.keep(lambda, mu, rho));
            assertTrue(e.getMessage().contains("rho = " + rho), e.getMessage());
        }
    }

    @Test
    void unsortedEigenvaluesAreRefusedNamingArrayAndIndex() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CurvatureMassSelection.keep(new double[] {3, 1, 2}, new double[] {1}, 0.5));
        assertTrue(e.getMessage().contains("lambda") && e.getMessage().contains("[2] = 2.0")
                && e.getMessage().contains("descending"), e.getMessage());
    }

    @Test
    void negativeEigenvaluesAreRefusedNamingArrayAndValue() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CurvatureMassSelection.keep(new double[] {1}, new double[] {2, -1e-9}, 0.5));
        assertTrue(e.getMessage().contains("mu") && e.getMessage().contains("[1] = -1.0E-9")
                && e.getMessage().contains("negative"), e.getMessage());
    }

    @Test
    void nonFiniteAndEmptySpectraAreRefused() {
        IllegalArgumentException nan = assertThrows(IllegalArgumentException.class,
                () -> CurvatureMassSelection.keep(new double[] {1, Double.NaN}, new double[] {1}, 0.5));
        assertTrue(nan.getMessage().contains("lambda") && nan.getMessage().contains("NaN"), nan.getMessage());
        IllegalArgumentException infinite = assertThrows(IllegalArgumentException.class,
                () -> CurvatureMassSelection.keep(new double[] {1}, new double[] {Double.POSITIVE_INFINITY}, 0.5));
        assertTrue(infinite.getMessage().contains("mu") && infinite.getMessage().contains("Infinity"),
                infinite.getMessage());
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                () -> CurvatureMassSelection.keep(new double[0], new double[] {1}, 0.5));
        assertTrue(empty.getMessage().contains("lambda") && empty.getMessage().contains("empty"), empty.getMessage());
        IllegalArgumentException overflow = assertThrows(IllegalArgumentException.class,
                () -> CurvatureMassSelection.keep(new double[] {1e200}, new double[] {1e200}, 0.5));
        assertTrue(overflow.getMessage().contains("overflows"), overflow.getMessage());
    }

    @Test
    void containsRefusesIndicesOutsideTheGrid() {
        CurvatureMassSelection selection = CurvatureMassSelection.keep(new double[] {2, 1}, new double[] {1}, 0.5);
        assertThrows(IndexOutOfBoundsException.class, () -> selection.contains(2, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> selection.contains(0, -1));
    }

    static double[] powerLaw(Random random, int n, double exponent) {
        double[] v = new double[n];
        for (int k = 0; k < n; k++) {
            v[k] = Math.pow(k + 1, -exponent) * Math.exp(0.2 * random.nextGaussian());
        }
        return RandomSpectra.descending(v);
    }
}
