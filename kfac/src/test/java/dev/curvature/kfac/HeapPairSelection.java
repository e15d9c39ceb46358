package dev.curvature.kfac;

import java.math.BigDecimal;
import java.util.Comparator;
import java.util.PriorityQueue;

/**
 * Test reference for {@link CurvatureMassSelection}: the reference code's heap enumeration
 * ({@code _top_pairs_by_product}), written independently of the bisection. A max-heap starts at (0, 0); each pop
 * adds the largest remaining product and pushes (i+1, j) and (i, j+1) through a seen-set; popping stops once the
 * cumulative mass reaches the target. Differences from the Python: products and the running mass are exact
 * {@link BigDecimal}s, and equal products pop in (i, j) ascending order (the documented tie order).
 */
final class HeapPairSelection {
    /** The selected set, its exact mass, and its last pair (-1, -1 when empty). */
    record Result(boolean[][] selected, BigDecimal mass, int lastRow, int lastColumn) {
        long count() {
            long n = 0;
            for (boolean[] row : selected) {
                for (boolean b : row) {
                    n += b ? 1 : 0;
                }
            }
            return n;
        }
    }

    private record Entry(int i, int j, BigDecimal product) {
    }

    private HeapPairSelection() {
    }

    /** The target of the definition: ρ·(Σλ)(Σμ) in double, sums in index order. */
    static double target(double[] lambda, double[] mu, double rho) {
        double sumLambda = 0;
        for (double v : lambda) {
            sumLambda += v;
        }
        double sumMu = 0;
        for (double v : mu) {
            sumMu += v;
        }
        return rho * (sumLambda * sumMu);
    }

    static Result select(double[] lambda, double[] mu, double rho) {
        int p = lambda.length;
        int q = mu.length;
        boolean[][] selected = new boolean[p][q];
        if (rho == 1) {
            // the documented convention: ρ = 1 keeps every pair, zero products included
            BigDecimal mass = BigDecimal.ZERO;
            for (int i = 0; i < p; i++) {
                for (int j = 0; j < q; j++) {
                    selected[i][j] = true;
                    mass = mass.add(product(lambda, mu, i, j));
                }
            }
            return new Result(selected, mass, p - 1, q - 1);
        }
        BigDecimal target = new BigDecimal(target(lambda, mu, rho));
        PriorityQueue<Entry> heap = new PriorityQueue<>(Comparator.comparing(Entry::product).reversed()
                .thenComparingInt(Entry::i).thenComparingInt(Entry::j));
        boolean[][] seen = new boolean[p][q];
        heap.add(new Entry(0, 0, product(lambda, mu, 0, 0)));
        seen[0][0] = true;
        BigDecimal cumulative = BigDecimal.ZERO;
        int lastRow = -1;
        int lastColumn = -1;
        while (cumulative.compareTo(target) < 0 && !heap.isEmpty()) {
            Entry top = heap.poll();
            selected[top.i][top.j] = true;
            cumulative = cumulative.add(top.product);
            lastRow = top.i;
            lastColumn = top.j;
            if (top.i + 1 < p && !seen[top.i + 1][top.j]) {
                seen[top.i + 1][top.j] = true;
                heap.add(new Entry(top.i + 1, top.j, product(lambda, mu, top.i + 1, top.j)));
            }
            if (top.j + 1 < q && !seen[top.i][top.j + 1]) {
                seen[top.i][top.j + 1] = true;
                heap.add(new Entry(top.i, top.j + 1, product(lambda, mu, top.i, top.j + 1)));
            }
        }
        return new Result(selected, cumulative, lastRow, lastColumn);
    }

    static BigDecimal product(double[] lambda, double[] mu, int i, int j) {
        return new BigDecimal(lambda[i]).multiply(new BigDecimal(mu[j]));
    }
}
