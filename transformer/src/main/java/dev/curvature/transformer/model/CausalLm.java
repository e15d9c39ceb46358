package dev.curvature.transformer.model;

import dev.curvature.engine.Tensor;

/**
 * A decoder-only language model with one block path for training, prefill and KV-cached decoding: the same block
 * code runs a (B, T) chunk whose positions start at {@code from}, reading earlier positions' keys and values from
 * the cache and appending its own.
 */
public interface CausalLm extends Model {
    /** A cache for {@code batch} sequences of up to {@code length} positions (≤ the context length). */
    KvCache cache(int batch, int length);

    /**
     * Runs the chunk {@code ids} (B·T, row-major (B, T) for the workspace's B, T) at positions [from, from + T)
     * through the blocks, filling the cache there, and writes the logits of each sequence's last chunk position to
     * {@code lastLogits} (B, V). Either from = 0 (prefill) or T = 1 (one decoding step).
     */
    void forward(Workspace ws, KvCache cache, int from, int[] ids, Tensor lastLogits);
}
