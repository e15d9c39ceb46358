package dev.curvature.kfac;

import java.util.Arrays;
import java.util.Objects;

/**
 * A set of curvature components (i, j) — G-eigenvector i, A-eigenvector j — of a p×q weight, the mask
 * M_ij = 1[(i, j) kept] of the edit W' = U_G (C ⊙ M) U_Aᵀ. Stored in O(p), never as a list of pairs.
 *
 * <p>Every selection rule here keeps, in each row i, one contiguous run of columns [rowStart(i), rowEnd(i)):
 * a prefix [0, k_i) with k_i non-increasing in i (a "staircase" or Young diagram: the shape of the top pairs of
 * a product of two descending spectra, and of the per-factor rectangle), or the complement of such a staircase,
 * the suffixes [k_i, q) (the ablate edit).
 */
public final class ComponentMask {
    private final int rows;
    private final int columns;
    /** Staircase row lengths k_i, non-increasing, each in [0, columns]. */
    private final int[] prefix;
    /** Whether the mask is the staircase's complement (row i keeps [k_i, q)) rather than the staircase. */
    private final boolean complement;
    private final long pairCount;
    private final int gEigenvectorsUsed;
    private final int aEigenvectorsUsed;

    private ComponentMask(int columns, int[] prefix, boolean complement) {
        if (prefix.length == 0 || columns <= 0) {
            throw new IllegalArgumentException("mask of " + prefix.length + "×" + columns + " components is empty");
        }
        for (int i = 0; i < prefix.length; i++) {
            if (prefix[i] < 0 || prefix[i] > columns || (i > 0 && prefix[i] > prefix[i - 1])) {
                throw new IllegalArgumentException("row lengths are not a staircase in [0, " + columns + "] at row "
                        + i + ": " + prefix[i]);
            }
        }
        this.rows = prefix.length;
        this.columns = columns;
        this.prefix = prefix;
        this.complement = complement;
        long staircase = 0;
        int nonEmptyRows = 0;
        int fullRows = 0;
        for (int k : prefix) {
            staircase += k;
            nonEmptyRows += k > 0 ? 1 : 0;
            fullRows += k == columns ? 1 : 0;
        }
        if (complement) {
            pairCount = (long) rows * columns - staircase;
            gEigenvectorsUsed = rows - fullRows;
            aEigenvectorsUsed = columns - prefix[rows - 1];
        } else {
            pairCount = staircase;
            gEigenvectorsUsed = nonEmptyRows;
            aEigenvectorsUsed = prefix[0];
        }
    }

    /** The staircase: row i keeps columns [0, rowLengths[i]); rowLengths must be non-increasing (copied). */
    static ComponentMask staircase(int columns, int[] rowLengths) {
        return new ComponentMask(columns, rowLengths.clone(), false);
    }

    /** Rows i &lt; keptRows, columns j &lt; keptColumns. */
    static ComponentMask rectangle(int rows, int columns, int keptRows, int keptColumns) {
        Objects.checkIndex(keptRows, rows + 1);
        Objects.checkIndex(keptColumns, columns + 1);
        int[] lengths = new int[rows];
        Arrays.fill(lengths, 0, keptRows, keptColumns);
        return new ComponentMask(columns, lengths, false);
    }

    /** Every pair of a rows×columns grid. */
    static ComponentMask all(int rows, int columns) {
        return rectangle(rows, columns, rows, columns);
    }

    /** No pair of a rows×columns grid. */
    static ComponentMask none(int rows, int columns) {
        return rectangle(rows, columns, 0, 0);
    }

    /** The pairs this mask leaves out: keep and ablate at the same ρ are complements of each other. */
    public ComponentMask complement() {
        return new ComponentMask(columns, prefix, !complement);
    }

    /** p: the number of G eigenvectors (d_out). */
    public int rows() {
        return rows;
    }

    /** q: the number of A eigenvectors (d_in). */
    public int columns() {
        return columns;
    }

    /** Whether component (i, j) is kept; i in [0, p), j in [0, q). */
    public boolean contains(int i, int j) {
        Objects.checkIndex(i, rows);
        Objects.checkIndex(j, columns);
        return j >= rowStart(i) && j < rowEnd(i);
    }

    /** First kept column of row i (row i keeps exactly the columns [rowStart(i), rowEnd(i))). */
    public int rowStart(int i) {
        Objects.checkIndex(i, rows);
        return complement ? prefix[i] : 0;
    }

    /** One past the last kept column of row i. */
    public int rowEnd(int i) {
        Objects.checkIndex(i, rows);
        return complement ? columns : prefix[i];
    }

    /** The number of kept pairs. */
    public long pairCount() {
        return pairCount;
    }

    /** Kept pairs / (p·q). */
    public double pairFraction() {
        return (double) pairCount / ((double) rows * columns);
    }

    /** Distinct G eigenvectors u_i that appear in at least one kept pair. */
    public int gEigenvectorsUsed() {
        return gEigenvectorsUsed;
    }

    /** Distinct A eigenvectors v_j that appear in at least one kept pair. */
    public int aEigenvectorsUsed() {
        return aEigenvectorsUsed;
    }

    /** Equal when the same grid keeps the same pairs, however the mask was built. */
    @Override
    public boolean equals(Object other) {
        if (!(other instanceof ComponentMask that) || rows != that.rows || columns != that.columns
                || pairCount != that.pairCount) {
            return false;
        }
        for (int i = 0; i < rows; i++) {
            // an empty row may be written [k, k) for any k
            boolean empty = rowStart(i) == rowEnd(i);
            if (empty != (that.rowStart(i) == that.rowEnd(i))
                    || !empty && (rowStart(i) != that.rowStart(i) || rowEnd(i) != that.rowEnd(i))) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode() {
        int hash = 31 * rows + columns;
        for (int i = 0; i < rows; i++) {
            boolean empty = rowStart(i) == rowEnd(i);
            hash = 31 * hash + (empty ? -1 : rowStart(i) * 65_537 + rowEnd(i));
        }
        return hash;
    }

    @Override
    public String toString() {
        return String.format("ComponentMask[%d×%d, %d pairs kept (%.4f%%), %d G and %d A eigenvectors used%s]", rows,
                columns, pairCount, 100 * pairFraction(), gEigenvectorsUsed, aEigenvectorsUsed,
                complement ? ", complement of a staircase" : "");
    }
}
