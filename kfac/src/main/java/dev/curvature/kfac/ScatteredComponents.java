package dev.curvature.kfac;

import java.util.BitSet;
import java.util.SplittableRandom;

/**
 * A set of curvature components (i, j) of a p×q weight with no structure — one bit per pair, row-major (bit i·q + j)
 * — such as a uniformly random subset, the control that asks whether <em>which</em> components an edit keeps
 * matters or only <em>how many</em>. Structured selections (staircases, bands) are {@link ComponentMask}s.
 */
public final class ScatteredComponents {
    private final int rows;
    private final int columns;
    private final BitSet bits;
    private final long count;

    private ScatteredComponents(int rows, int columns, BitSet bits) {
        this.rows = rows;
        this.columns = columns;
        this.bits = bits;
        this.count = bits.cardinality();
    }

    /**
     * Exactly {@code count} of the rows·columns pairs, each subset equally likely, a pure function of the seed
     * (Knuth's selection sampling, Algorithm S: pair t of N is taken with probability (count − taken)/(N − t)).
     */
    public static ScatteredComponents random(int rows, int columns, long count, long seed) {
        long total = (long) rows * columns;
        if (rows <= 0 || columns <= 0 || total > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a component set needs 1 ≤ rows·columns ≤ 2³¹ − 1; got " + rows + "×"
                    + columns);
        }
        if (count < 0 || count > total) {
            throw new IllegalArgumentException("cannot choose " + count + " of " + rows + "×" + columns
                    + " components");
        }
        SplittableRandom random = new SplittableRandom(seed);
        BitSet bits = new BitSet((int) total);
        long taken = 0;
        for (int t = 0; t < total && taken < count; t++) {
            if ((total - t) * random.nextDouble() < count - taken) {
                bits.set(t);
                taken++;
            }
        }
        return new ScatteredComponents(rows, columns, bits);
    }

    /** The pairs (i, j) of a rows×columns grid for which {@code member} holds. */
    public static ScatteredComponents of(int rows, int columns, PairPredicate member) {
        long total = (long) rows * columns;
        if (rows <= 0 || columns <= 0 || total > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a component set needs 1 ≤ rows·columns ≤ 2³¹ − 1; got " + rows + "×"
                    + columns);
        }
        BitSet bits = new BitSet((int) total);
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < columns; j++) {
                if (member.test(i, j)) {
                    bits.set(i * columns + j);
                }
            }
        }
        return new ScatteredComponents(rows, columns, bits);
    }

    /** The pairs whose row-major bit i·q + j is set in {@code bits} (copied). */
    static ScatteredComponents ofBits(int rows, int columns, BitSet bits) {
        long total = (long) rows * columns;
        if (rows <= 0 || columns <= 0 || total > Integer.MAX_VALUE || bits.length() > total) {
            throw new IllegalArgumentException("a component set needs 1 ≤ rows·columns ≤ 2³¹ − 1 and bits inside "
                    + "the grid; got " + rows + "×" + columns + " with bit " + (bits.length() - 1));
        }
        return new ScatteredComponents(rows, columns, (BitSet) bits.clone());
    }

    /** Every pair of the grid not in this set. */
    public ScatteredComponents complement() {
        BitSet flipped = (BitSet) bits.clone();
        flipped.flip(0, rows * columns);
        return new ScatteredComponents(rows, columns, flipped);
    }

    /** Membership of pair (i, j). */
    @FunctionalInterface
    public interface PairPredicate {
        boolean test(int i, int j);
    }

    public int rows() {
        return rows;
    }

    public int columns() {
        return columns;
    }

    /** The number of pairs in the set. */
    public long count() {
        return count;
    }

    public boolean contains(int i, int j) {
        java.util.Objects.checkIndex(i, rows);
        java.util.Objects.checkIndex(j, columns);
        return bits.get(i * columns + j);
    }

    /** The first pair's row-major index i·q + j, or −1 if the set is empty. */
    long first() {
        return bits.nextSetBit(0);
    }

    /** The next pair's row-major index after {@code at}, or −1. */
    long next(long at) {
        return bits.nextSetBit((int) at + 1);
    }

    /** Distinct rows i (G eigenvectors) with at least one pair. */
    public int rowsUsed() {
        int used = 0;
        for (int i = 0; i < rows; i++) {
            int next = bits.nextSetBit(i * columns);
            used += next >= 0 && next < (i + 1) * columns ? 1 : 0;
        }
        return used;
    }

    /** Distinct columns j (A eigenvectors) with at least one pair. */
    public int columnsUsed() {
        boolean[] seen = new boolean[columns];
        int used = 0;
        for (int at = bits.nextSetBit(0); at >= 0; at = bits.nextSetBit(at + 1)) {
            if (!seen[at % columns]) {
                seen[at % columns] = true;
                used++;
            }
        }
        return used;
    }
}
