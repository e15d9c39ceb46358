package dev.curvature.transformer.layers;

import dev.curvature.engine.Backend;
import dev.curvature.engine.Tensor;
import dev.curvature.engine.Transpose;

/**
 * The core of multi-head self-attention with grouped-query heads, between the input projections and the output
 * projection: per query head h with key/value head g = h / (H / H_kv), att_h = softmax(q_h k_gᵀ / √hs) — causal
 * (position t sees 0..t: language models) or bidirectional (every position sees all: the vision transformer) —
 * and y_h = att_h v_g. Heads are column slices of the (possibly strided) q, k, v
 * views — GPT-2 passes slices of its packed qkv rows, Llama its separate projections — so no data is reshuffled.
 *
 * <p>Training and prefill attend within the chunk (S = T, a square causal mask); a decoding step has T = 1 query
 * attending over all S cached positions (nothing to mask).
 */
public final class MultiHeadAttention {
    private MultiHeadAttention() {
    }

    /**
     * The query heads j, group + j, 2·group + j, … of x (B, T, H·hs) — head j of every key/value group — as
     * (B, H_kv, T, hs); query head h = g·group + j uses key/value head g.
     */
    private static Tensor queryHeads(Tensor x, int kvHeads, int group, int j, int hs) {
        return x.split(2, kvHeads, group, hs).select(3, j).transpose(1, 2);
    }

    /** The key/value heads of x (B, S, H_kv·hs) as (B, H_kv, S, hs). */
    private static Tensor keyValueHeads(Tensor x, int kvHeads, int hs) {
        return x.split(2, kvHeads, hs).transpose(1, 2);
    }

    /** The rows of att (B, H, T, S) that belong to {@link #queryHeads}: (B, H_kv, T, S). */
    private static Tensor headScores(Tensor att, int kvHeads, int group, int j) {
        return att.split(1, kvHeads, group).select(2, j);
    }

    /**
     * Causal: q (B, T, H·hs), k and v (B, S, H_kv·hs) with S = T, or T = 1 → writes att (B, H, T, S) (the softmax
     * probabilities, kept for backward) and y (B, T, H·hs).
     */
    public static void forward(Backend be, Tensor y, Tensor att, Tensor q, Tensor k, Tensor v, int heads,
                               int kvHeads) {
        forward(be, y, att, q, k, v, heads, kvHeads, true);
    }

    /** {@link #forward(Backend, Tensor, Tensor, Tensor, Tensor, Tensor, int, int)}, causal or bidirectional (S = T). */
    public static void forward(Backend be, Tensor y, Tensor att, Tensor q, Tensor k, Tensor v, int heads,
                               int kvHeads, boolean causal) {
        int hs = (int) (y.dim(2) / heads);
        int group = heads / kvHeads;
        long time = q.dim(1);
        long keys = k.dim(1);
        if (keys != time && time != 1) {
            throw new IllegalArgumentException("attention of " + time + " queries over " + keys + " keys: a chunk "
                    + "attends within itself or one query attends over the cache");
        }
        double scale = 1.0 / Math.sqrt(hs);
        boolean masked = causal && keys == time;          // a decoding step's one query sees every cached key
        if (!causal && keys != time) {
            throw new IllegalArgumentException("bidirectional attention of " + time + " queries over " + keys + " keys");
        }
        // One batched product per head position j within a group, over all (batch, group) pairs at once: with
        // H_kv = H (no grouping) that is every head in one call.
        for (int j = 0; j < group; j++) {
            be.gemmBatched(headScores(att, kvHeads, group, j), queryHeads(q, kvHeads, group, j, hs), Transpose.NONE,
                    keyValueHeads(k, kvHeads, hs), Transpose.TRANSPOSED, masked ? 1.0 : scale, 0.0);   // (B, H_kv, T, S)
        }
        if (masked) {
            be.causalSoftmax(att, att, scale);
        } else {
            be.softmaxRows(att, att);
        }
        for (int j = 0; j < group; j++) {
            be.gemmBatched(queryHeads(y, kvHeads, group, j, hs), headScores(att, kvHeads, group, j), Transpose.NONE,
                    keyValueHeads(v, kvHeads, hs), Transpose.NONE, 1.0, 0.0);                         // (B, H_kv, T, hs)
        }
    }

    /**
     * dy (B, T, H·hs) → writes dq (B, T, H·hs), dk and dv (B, T, H_kv·hs) (a key/value head's gradient sums over
     * the query heads of its group); uses dAtt (B, H, T, T) as scratch. Needs q, k, v and att from a square causal
     * forward.
     */
    public static void backward(Backend be, Tensor dq, Tensor dk, Tensor dv, Tensor dAtt, Tensor dy, Tensor q,
                                Tensor k, Tensor v, Tensor att, int heads, int kvHeads) {
        backward(be, dq, dk, dv, dAtt, dy, q, k, v, att, heads, kvHeads, true);
    }

    /** The backward of a square forward, causal or bidirectional. */
    public static void backward(Backend be, Tensor dq, Tensor dk, Tensor dv, Tensor dAtt, Tensor dy, Tensor q,
                                Tensor k, Tensor v, Tensor att, int heads, int kvHeads, boolean causal) {
        int hs = (int) (dy.dim(2) / heads);
        int group = heads / kvHeads;
        Tensor dvHeads = keyValueHeads(dv, kvHeads, hs);
        Tensor dkHeads = keyValueHeads(dk, kvHeads, hs);
        for (int j = 0; j < group; j++) {
            Tensor dyHeads = queryHeads(dy, kvHeads, group, j, hs);
            double firstInGroup = j == 0 ? 0.0 : 1.0;   // beta: the group's first head writes, the rest add
            // y_h = att_h v_g: d att_h = dy_h v_gᵀ, d v_g += att_hᵀ dy_h
            be.gemmBatched(headScores(dAtt, kvHeads, group, j), dyHeads, Transpose.NONE, keyValueHeads(v, kvHeads, hs),
                    Transpose.TRANSPOSED, 1.0, 0.0);
            be.gemmBatched(dvHeads, headScores(att, kvHeads, group, j), Transpose.TRANSPOSED, dyHeads,
                    Transpose.NONE, 1.0, firstInGroup);
        }
        double scale = 1.0 / Math.sqrt(hs);
        double productScale;                      // what d(q kᵀ) still lacks of the 1/√hs
        if (causal) {
            be.causalSoftmaxBackward(dAtt, dAtt, att, scale);   // now d(q kᵀ), the 1/√hs included
            productScale = 1.0;
        } else {
            be.softmaxRowsBackward(dAtt, dAtt, att);            // d(scale · q kᵀ)
            productScale = scale;
        }
        for (int j = 0; j < group; j++) {
            Tensor dScores = headScores(dAtt, kvHeads, group, j);
            double firstInGroup = j == 0 ? 0.0 : 1.0;
            // scores_h = q_h k_gᵀ: d q_h = dS k_g, d k_g += dSᵀ q_h
            be.gemmBatched(queryHeads(dq, kvHeads, group, j, hs), dScores, Transpose.NONE, keyValueHeads(k, kvHeads, hs),
                    Transpose.NONE, productScale, 0.0);
            be.gemmBatched(dkHeads, dScores, Transpose.TRANSPOSED, queryHeads(q, kvHeads, group, j, hs),
                    Transpose.NONE, productScale, firstInGroup);
        }
    }
}
