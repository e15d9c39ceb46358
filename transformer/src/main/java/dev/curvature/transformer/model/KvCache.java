package dev.curvature.transformer.model;

import dev.curvature.engine.Tensor;

/**
 * Keys and values of every block for positions already run, so that decoding a new position costs one row per
 * sequence through every block. Per block: keys, values (B, P, K) with K the key width (kv heads × head size).
 * Owned by whoever made it; sized at construction.
 */
public interface KvCache extends AutoCloseable {
    int batch();

    /** Positions it holds (P). */
    int length();

    /** Block l's keys (B, P, K). */
    Tensor keys(int block);

    /** Block l's values (B, P, K). */
    Tensor values(int block);

    /** Scratch for one block's attention probabilities while decoding: B·H·P elements. */
    Tensor scores();

    @Override
    void close();
}
