package dev.curvature.engine;

import java.util.Arrays;

/**
 * How elementwise kernels walk a set of same-shaped tensors: as fixed-size chunks of the flat element range when
 * every tensor is contiguous, or row by row when some tensor is a 2-D view with a row stride (a column slice).
 * Each block is consecutive in memory in every tensor, so kernels read and write it with one bulk call.
 */
final class ElementBlocks {
    /** Chunk length for contiguous tensors: fits L1/L2 in double, long enough to amortise the per-block work. */
    static final int CHUNK = 4096;

    private final long count;
    private final int length;
    private final long total;
    private final boolean byRows;
    private final boolean shareable;

    private ElementBlocks(long count, int length, long total, boolean byRows, boolean shareable) {
        this.count = count;
        this.length = length;
        this.total = total;
        this.byRows = byRows;
        this.shareable = shareable;
    }

    /** The common block structure of {@code tensors}, which must all have the shape of the first. */
    static ElementBlocks of(String op, Tensor... tensors) {
        Tensor first = tensors[0];
        boolean allContiguous = true;
        for (Tensor t : tensors) {
            if (!t.sameShape(first)) {
                throw new IllegalArgumentException(op + ": shape mismatch, " + first.describe() + " vs " + t.describe());
            }
            if (t.device() != Device.HOST) {
                throw new IllegalArgumentException(op + ": " + t.describe() + " is on " + t.device()
                        + ", the CPU backend needs host tensors");
            }
            allContiguous &= t.isContiguous();
        }
        long total = first.size();
        if (allContiguous) {
            int length = (int) Math.min(CHUNK, Math.max(total, 1));
            return new ElementBlocks((total + length - 1) / length, length, total, false, ParallelLoop.shareable(tensors));
        }
        for (Tensor t : tensors) {
            if (!(t.isContiguous() || (t.rank() == 2 && t.stride(1) == 1))) {
                throw new IllegalArgumentException(op + ": " + t.describe() + " with strides "
                        + Arrays.toString(new long[]{t.stride(0), t.rank() > 1 ? t.stride(1) : 1})
                        + " is neither contiguous nor a row-strided matrix");
            }
        }
        if (first.dim(1) > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(op + ": rows of " + first.describe() + " are too long");
        }
        return new ElementBlocks(first.dim(0), (int) first.dim(1), total, true, ParallelLoop.shareable(tensors));
    }

    /** Whether worker threads may process the blocks (no tensor lives in a confined arena). */
    boolean shareable() {
        return shareable;
    }

    long count() {
        return count;
    }

    /** The largest block length (size buffers with this). */
    int maxLength() {
        return length;
    }

    /** Length of block {@code block} (the last chunk may be short). */
    int length(long block) {
        return byRows ? length : (int) Math.min(length, total - block * length);
    }

    /** Storage element index where block {@code block} of {@code t} starts. */
    long start(Tensor t, long block) {
        if (byRows) {
            return t.isContiguous() ? t.offset() + block * length : t.offset() + block * t.stride(0);
        }
        return t.offset() + block * length;
    }
}
