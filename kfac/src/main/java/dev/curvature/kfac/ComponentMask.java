package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.Tensor;

import java.util.Arrays;
import java.util.Objects;

/**
 * A set of curvature components (i, j) — G-eigenvector i, A-eigenvector j — of a p×q weight, the mask
 * M_ij = 1[(i, j) kept] of the edit W' = U_G (C ⊙ M) U_Aᵀ. Stored in O(p), never as a list of pairs.
 *
 * <p>Every mask here keeps, in each row i, one contiguous run of columns [rowStart(i), rowEnd(i)). That covers
 * every rule the project uses, because μ is sorted descending, so the pairs of row i ordered by λ_iμ_j are its
 * columns in order:
 * <ul>
 *   <li>a staircase (Young diagram): prefixes [0, k_i) with k_i non-increasing in i — the top pairs of a product of
 *       two descending spectra (by mass or by count), and the per-factor rectangle;</li>
 *   <li>the complement of a staircase: suffixes [k_i, q) (the ablate edit);</li>
 *   <li>a curvature band, the difference of two nested staircases: [k_i, k'_i) with k_i ≤ k'_i.</li>
 * </ul>
 */
public final class ComponentMask {
    private final int rows;
    private final int columns;
    /** Row i keeps the columns [starts[i], ends[i]); 0 ≤ starts[i] ≤ ends[i] ≤ columns. */
    private final int[] starts;
    private final int[] ends;
    private final long pairCount;
    private final int gEigenvectorsUsed;
    private final int aEigenvectorsUsed;

    private ComponentMask(int columns, int[] starts, int[] ends) {
        if (starts.length == 0 || columns <= 0) {
            throw new IllegalArgumentException("mask of " + starts.length + "×" + columns + " components is empty");
        }
        if (ends.length != starts.length) {
            throw new IllegalArgumentException("mask has " + starts.length + " run starts but " + ends.length
                    + " run ends");
        }
        this.rows = starts.length;
        this.columns = columns;
        this.starts = starts;
        this.ends = ends;
        long pairs = 0;
        int nonEmptyRows = 0;
        // columnEdges[j] counts runs that start at j minus runs that end at j; its prefix sum is the number of
        // rows covering column j, O(p + q) however the runs lie
        int[] columnEdges = new int[columns + 1];
        for (int i = 0; i < rows; i++) {
            if (starts[i] < 0 || starts[i] > ends[i] || ends[i] > columns) {
                throw new IllegalArgumentException("row " + i + " keeps columns [" + starts[i] + ", " + ends[i]
                        + "), not a run inside [0, " + columns + ")");
            }
            int length = ends[i] - starts[i];
            pairs += length;
            if (length > 0) {
                nonEmptyRows++;
                columnEdges[starts[i]]++;
                columnEdges[ends[i]]--;
            }
        }
        int usedColumns = 0;
        for (int j = 0, covering = 0; j < columns; j++) {
            covering += columnEdges[j];
            usedColumns += covering > 0 ? 1 : 0;
        }
        this.pairCount = pairs;
        this.gEigenvectorsUsed = nonEmptyRows;
        this.aEigenvectorsUsed = usedColumns;
    }

    /** The staircase: row i keeps columns [0, rowLengths[i]); rowLengths must be non-increasing (copied). */
    static ComponentMask staircase(int columns, int[] rowLengths) {
        for (int i = 0; i < rowLengths.length; i++) {
            if (rowLengths[i] < 0 || rowLengths[i] > columns || (i > 0 && rowLengths[i] > rowLengths[i - 1])) {
                throw new IllegalArgumentException("row lengths are not a staircase in [0, " + columns + "] at row "
                        + i + ": " + rowLengths[i]);
            }
        }
        return new ComponentMask(columns, new int[rowLengths.length], rowLengths.clone());
    }

    /**
     * Row i keeps the columns [starts[i], ends[i]) (copied); any runs inside the grid, empty ones included. The
     * band between two nested staircases k ≤ k' is {@code runs(q, k, k')}.
     */
    static ComponentMask runs(int columns, int[] starts, int[] ends) {
        return new ComponentMask(columns, starts.clone(), ends.clone());
    }

    /** Rows i &lt; keptRows, columns j &lt; keptColumns. */
    static ComponentMask rectangle(int rows, int columns, int keptRows, int keptColumns) {
        Objects.checkIndex(keptRows, rows + 1);
        Objects.checkIndex(keptColumns, columns + 1);
        int[] lengths = new int[rows];
        Arrays.fill(lengths, 0, keptRows, keptColumns);
        return new ComponentMask(columns, new int[rows], lengths);
    }

    /** Every pair of a rows×columns grid. */
    static ComponentMask all(int rows, int columns) {
        return rectangle(rows, columns, rows, columns);
    }

    /** No pair of a rows×columns grid. */
    static ComponentMask none(int rows, int columns) {
        return rectangle(rows, columns, 0, 0);
    }

    /**
     * The pairs this mask leaves out: keep and ablate at the same ρ are complements of each other. Defined when every
     * row's complement is again one run, i.e. each non-empty run touches column 0 or column q (staircases, their
     * complements, bands at the top or the bottom of the ranking); otherwise an IllegalStateException names the row.
     */
    public ComponentMask complement() {
        int[] newStarts = new int[rows];
        int[] newEnds = new int[rows];
        for (int i = 0; i < rows; i++) {
            int s = starts[i];
            int e = ends[i];
            if (s == e) {
                newStarts[i] = 0;
                newEnds[i] = columns;
            } else if (s == 0) {
                newStarts[i] = e;
                newEnds[i] = columns;
            } else if (e == columns) {
                newStarts[i] = 0;
                newEnds[i] = s;
            } else {
                throw new IllegalStateException("the complement of row " + i + " (columns [" + s + ", " + e
                        + ") of " + columns + ") is two runs; a ComponentMask keeps one per row");
            }
        }
        return new ComponentMask(columns, newStarts, newEnds);
    }

    /**
     * Sets every coefficient outside this mask to 0 in {@code coefficients} (p, q), C ⊙ M in place: row i keeps only
     * its run [rowStart(i), rowEnd(i)).
     */
    public void zeroOutside(Backend backend, Tensor coefficients) {
        if (coefficients.dim(0) != rows || coefficients.dim(1) != columns) {
            throw new IllegalArgumentException("a " + rows + "×" + columns + " mask cannot mask coefficients "
                    + coefficients.describe());
        }
        for (int i = 0; i < rows; i++) {
            Tensor row = coefficients.select(0, i);
            int start = rowStart(i);
            int end = rowEnd(i);
            if (start > 0) {
                backend.fill(row.slice(0, 0, start), 0.0);
            }
            if (end < columns) {
                backend.fill(row.slice(0, end, columns), 0.0);
            }
        }
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
        return j >= starts[i] && j < ends[i];
    }

    /** First kept column of row i (row i keeps exactly the columns [rowStart(i), rowEnd(i))). */
    public int rowStart(int i) {
        Objects.checkIndex(i, rows);
        return starts[i];
    }

    /** One past the last kept column of row i. */
    public int rowEnd(int i) {
        Objects.checkIndex(i, rows);
        return ends[i];
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

    /** c (q): c_j = #{i : (i, j) kept}, the kept pairs in column j (they sum to {@link #pairCount}); O(p + q). */
    public int[] columnCounts() {
        int[] counts = new int[columns + 1];
        for (int i = 0; i < rows; i++) {
            if (starts[i] < ends[i]) {
                counts[starts[i]]++;
                counts[ends[i]]--;
            }
        }
        for (int j = 1; j < columns; j++) {
            counts[j] += counts[j - 1];
        }
        return Arrays.copyOf(counts, columns);
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
            boolean empty = starts[i] == ends[i];
            if (empty != (that.starts[i] == that.ends[i])
                    || !empty && (starts[i] != that.starts[i] || ends[i] != that.ends[i])) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode() {
        int hash = 31 * rows + columns;
        for (int i = 0; i < rows; i++) {
            boolean empty = starts[i] == ends[i];
            hash = 31 * hash + (empty ? -1 : starts[i] * 65_537 + ends[i]);
        }
        return hash;
    }

    @Override
    public String toString() {
        return String.format("ComponentMask[%d×%d, %d pairs kept (%.4f%%), %d G and %d A eigenvectors used%s]", rows,
                columns, pairCount, 100 * pairFraction(), gEigenvectorsUsed, aEigenvectorsUsed, shape());
    }

    /** How the runs lie, for toString: a staircase, the complement of one, or general runs. */
    private String shape() {
        boolean prefixes = true;
        boolean suffixes = true;
        for (int i = 0; i < rows; i++) {
            boolean empty = starts[i] == ends[i];
            prefixes &= empty || starts[i] == 0;
            suffixes &= empty || ends[i] == columns;
        }
        return prefixes ? "" : suffixes ? ", complement of a staircase" : ", one run of columns per row";
    }
}
