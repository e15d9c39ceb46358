package dev.curvature.engine;

import java.lang.foreign.Arena;

/**
 * The float32 buffer where a {@link CovarianceAccumulator} forms a batch's products XᵀX (one per row block,
 * {@link Backend#syrkRowBlocks}) before folding them into its float64 sum. The products live only inside one
 * {@code accumulate} call, so any number of accumulators used one at a time can share one scratch: a collector over
 * 24 GPT-2 MLP projections needs one 3072² buffer (38 MB) instead of one per sum (0.96 GB), an OLMo-2 1B collector
 * one 8192² buffer instead of 48.
 *
 * <p>Not for concurrent use: two accumulators sharing a scratch must not accumulate at the same time.
 */
public final class CovarianceScratch implements AutoCloseable {
    private final Backend backend;
    private Arena arena;
    private Tensor buffer;        // flat F32, the largest blocks · d² asked for so far

    public CovarianceScratch(Backend backend) {
        this.backend = backend;
    }

    /**
     * A (blocks, d, d) F32 view for one accumulate call; valid until the next call (which may move the buffer:
     * growing replaces it and frees the old one).
     */
    Tensor products(int blocks, int dim) {
        long elements = (long) blocks * dim * dim;
        if (buffer == null || buffer.dim(0) < elements) {
            close();
            arena = Arena.ofShared();
            buffer = backend.allocate(arena, DType.F32, elements);
        }
        return buffer.slice(0, 0, elements).reshape(blocks, dim, dim);
    }

    /** Floats held now (for tests and memory reports). */
    public long capacity() {
        return buffer == null ? 0 : buffer.dim(0);
    }

    @Override
    public void close() {
        if (arena != null) {
            arena.close();
            arena = null;
            buffer = null;
        }
    }
}
