package dev.curvature.transformer.layers;

import dev.curvature.engine.Backend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.model.KvCache;

/** Moves a chunk's keys and values into a {@link KvCache} and gives attention its views of what is cached. */
public final class CachedAttention {
    private CachedAttention() {
    }

    /**
     * Attention of one block for a chunk at positions from .. from + T: without a cache (training) or at from = 0
     * (prefill), within the chunk, using {@code att} (B, H, T, T); with a cache, the chunk's k, v are appended to it
     * first, and a decoding step (T = 1, from > 0) attends over every cached position using the cache's scratch.
     * q (B, T, H·hs), k and v (B, T, H_kv·hs) → writes y (B, T, H·hs).
     */
    public static void forward(Backend be, KvCache cache, int block, int from, Tensor y, Tensor att, Tensor q,
                               Tensor k, Tensor v, int heads, int kvHeads) {
        if (cache != null) {
            append(be, cache, block, from, k, v);
            if (from > 0) {
                int length = from + (int) q.dim(1);
                k = keys(cache, block, length);
                v = values(cache, block, length);
                att = scores(cache, (int) q.dim(0), heads, length);
            }
        }
        MultiHeadAttention.forward(be, y, att, q, k, v, heads, kvHeads);
    }

    /** Writes k, v (B, T, K) of the chunk at positions from .. from + T into block l's cache. */
    private static void append(Backend be, KvCache cache, int block, int from, Tensor k, Tensor v) {
        long time = k.dim(1);
        for (int b = 0; b < k.dim(0); b++) {
            be.copy(cache.keys(block).select(0, b).slice(0, from, from + time), k.select(0, b));
            be.copy(cache.values(block).select(0, b).slice(0, from, from + time), v.select(0, b));
        }
    }

    /** Block l's cached keys of positions 0 .. length, (B, length, K). */
    private static Tensor keys(KvCache cache, int block, int length) {
        return cache.keys(block).slice(1, 0, length);
    }

    /** Block l's cached values of positions 0 .. length, (B, length, K). */
    private static Tensor values(KvCache cache, int block, int length) {
        return cache.values(block).slice(1, 0, length);
    }

    /** The cache's scores scratch as (B, H, 1, length): one query row per sequence and head. */
    private static Tensor scores(KvCache cache, int batch, int heads, int length) {
        return cache.scores().slice(0, 0, (long) batch * heads * length).reshape(batch, heads, 1, length);
    }
}
