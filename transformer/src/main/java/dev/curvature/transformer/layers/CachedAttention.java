package dev.curvature.transformer.layers;

import dev.curvature.engine.Backend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.model.KvCache;

/** Moves a chunk's keys and values into a {@link KvCache} and gives attention its views of what is cached. */
public final class CachedAttention {
    private CachedAttention() {
    }

    /** Writes k, v (B, T, K) of the chunk at positions from .. from + T into block l's cache. */
    public static void append(Backend be, KvCache cache, int block, int from, Tensor k, Tensor v) {
        long time = k.dim(1);
        for (int b = 0; b < k.dim(0); b++) {
            be.copy(cache.keys(block).select(0, b).slice(0, from, from + time), k.select(0, b));
            be.copy(cache.values(block).select(0, b).slice(0, from, from + time), v.select(0, b));
        }
    }

    /** Block l's cached keys of positions 0 .. length, (B, length, K). */
    public static Tensor keys(KvCache cache, int block, int length) {
        return cache.keys(block).slice(1, 0, length);
    }

    /** Block l's cached values of positions 0 .. length, (B, length, K). */
    public static Tensor values(KvCache cache, int block, int length) {
        return cache.values(block).slice(1, 0, length);
    }

    /** The cache's scores scratch as (B, H, 1, length): one query row per sequence and head. */
    public static Tensor scores(KvCache cache, int batch, int heads, int length) {
        return cache.scores().slice(0, 0, (long) batch * heads * length).reshape(batch, heads, 1, length);
    }
}
