package dev.curvature.engine;

import java.lang.foreign.Arena;

/**
 * A running second-moment sum S = Σ_batches α · XᵀX over batches X (k, d), kept in float64 — the hot path of
 * K-FAC factor collection (A = Σ a aᵀ over layer inputs, G = Σ g gᵀ over output gradients).
 *
 * <p>Only the upper triangle is accumulated (SYRK does half the work of GEMM); {@link #readSymmetric} fills both
 * halves. The accumulator owns its buffers (one arena, closed by {@link #close}); sums and row counts are stored
 * separately so shards collected elsewhere add exactly, and division by the count happens only when reading.
 */
public final class CovarianceAccumulator implements AutoCloseable {
    private final Backend backend;
    private final int dim;
    private final CovariancePrecision precision;
    private final Arena arena;
    private final Tensor sum;          // (d, d) F64, upper triangle valid
    private final CovarianceScratch scratch;   // (p, d, d) F32 per-row-block products, F32_WITH_F64_SUMS
    private final boolean ownsScratch;
    private Tensor widened;            // (k, d) F64, F64_EXACT with F32 input; grown on demand
    private long rows;

    /** An accumulator with a float32 product scratch of its own. */
    public CovarianceAccumulator(Backend backend, int dim, CovariancePrecision precision, String name) {
        this(backend, dim, precision, name, null);
    }

    /**
     * An accumulator forming its float32 batch products in {@code sharedScratch} (which the caller closes; null: a
     * scratch of its own), e.g. one scratch for all the sums of a collector.
     */
    public CovarianceAccumulator(Backend backend, int dim, CovariancePrecision precision, String name,
                                 CovarianceScratch sharedScratch) {
        if (dim < 1) {
            throw new IllegalArgumentException("covariance dimension must be >= 1, got " + dim + " for " + name);
        }
        this.backend = backend;
        this.dim = dim;
        this.precision = precision;
        this.arena = Arena.ofShared();
        this.sum = backend.allocate(arena, DType.F64, dim, dim).named(name);
        this.ownsScratch = sharedScratch == null;
        this.scratch = sharedScratch != null ? sharedScratch : new CovarianceScratch(backend);
    }

    /** Accumulates S += alpha · XᵀX for a batch X (k, d) of F32 or F64 rows; counts k rows. */
    public void accumulate(Tensor x, double alpha) {
        if (x.rank() != 2 || x.dim(1) != dim) {
            throw new IllegalArgumentException("covariance '" + sum.name() + "' has dimension " + dim
                    + ", batch " + x.describe() + " must be (k, " + dim + ")");
        }
        if (x.dim(0) == 0) {
            return;
        }
        DType dtype = x.dtype();
        if (dtype == DType.F64) {
            // float64 input: both modes are the exact DSYRK straight into the sum
            backend.syrkUpper(sum, x, alpha, 1.0);
        } else if (precision == CovariancePrecision.F64_EXACT) {
            Tensor wide = widenedRows(x.dim(0));
            backend.copy(wide, x);
            backend.syrkUpper(sum, wide, alpha, 1.0);
        } else if (dtype == DType.F32) {
            // float32 products of p row blocks (p = 1 unless the backend runs tall blocks side by side), then one
            // pass that sums them in float64 into the float64 sum
            Tensor products = scratch.products(backend.syrkRowBlocks(x.dim(0), dim), dim);
            backend.syrkUpper(products, x, 1.0, 0.0);
            backend.addUpper(sum, products, alpha);
        } else {
            throw new IllegalArgumentException("covariance '" + sum.name() + "': batch " + x.describe()
                    + " must be F32 or F64");
        }
        rows += x.dim(0);
    }

    /**
     * Replaces the state by a stored one: {@code storedSum} (d, d) whose upper triangle is the sum, and its row
     * count (factor files, checkpoints).
     */
    public void restore(Tensor storedSum, long storedRows) {
        if (storedSum.rank() != 2 || storedSum.dim(0) != dim || storedSum.dim(1) != dim) {
            throw new IllegalArgumentException("covariance '" + sum.name() + "' is (" + dim + ", " + dim
                    + "), stored sum " + storedSum.describe() + " is not");
        }
        if (storedRows < 0) {
            throw new IllegalArgumentException("covariance '" + sum.name() + "': negative row count " + storedRows);
        }
        backend.copy(sum, storedSum);
        rows = storedRows;
    }

    /** Adds another accumulator's sum and count into this one (shards of one corpus). */
    public void add(CovarianceAccumulator other) {
        if (other.dim != dim) {
            throw new IllegalArgumentException("cannot add covariance '" + other.sum.name() + "' (d=" + other.dim
                    + ") into '" + sum.name() + "' (d=" + dim + ")");
        }
        backend.addUpper(sum, other.sum, 1.0);
        rows += other.rows;
    }

    /** Writes out (d, d) = scale · S with both triangles filled (e.g. scale = 1/rows for the mean). */
    public void readSymmetric(Tensor out, double scale) {
        if (out.rank() != 2 || out.dim(0) != dim || out.dim(1) != dim) {
            throw new IllegalArgumentException("readSymmetric: " + out.describe() + " must be (" + dim + ", "
                    + dim + ")");
        }
        backend.fill(out, 0.0);
        backend.addUpper(out, sum, scale);
        backend.symmetrizeFromUpper(out);
    }

    /** The raw float64 sum (upper triangle valid; the strict lower triangle is unspecified). */
    public Tensor upperSum() {
        return sum;
    }

    /** Rows accumulated so far (positions, for K-FAC). */
    public long rows() {
        return rows;
    }

    public int dim() {
        return dim;
    }

    public CovariancePrecision precision() {
        return precision;
    }

    private Tensor widenedRows(long k) {
        if (widened == null || widened.dim(0) < k) {
            // grow geometrically: the arena frees nothing until close, so repeated small growth would pile up
            long capacity = Math.max(k, widened == null ? 0 : 2 * widened.dim(0));
            widened = backend.allocate(arena, DType.F64, capacity, dim);
        }
        return widened.slice(0, 0, k);
    }

    @Override
    public void close() {
        if (ownsScratch) {
            scratch.close();
        }
        arena.close();
    }
}
