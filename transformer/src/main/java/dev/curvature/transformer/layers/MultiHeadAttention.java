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

    private static Tensor head(Tensor x, int head, int headSize) {
        long from = (long) head * headSize;
        return x.slice(2, from, from + headSize);
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
        for (int h = 0; h < heads; h++) {
            Tensor attHead = att.select(1, h);                                            // (B, T, S)
            be.gemmBatched(attHead, head(q, h, hs), Transpose.NONE, head(k, h / group, hs), Transpose.TRANSPOSED,
                    masked ? 1.0 : scale, 0.0);
        }
        if (masked) {
            be.causalSoftmax(att, att, scale);
        } else {
            be.softmaxRows(att, att);
        }
        for (int h = 0; h < heads; h++) {
            be.gemmBatched(head(y, h, hs), att.select(1, h), Transpose.NONE, head(v, h / group, hs), Transpose.NONE,
                    1.0, 0.0);
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
        for (int h = 0; h < heads; h++) {
            Tensor dyHead = head(dy, h, hs);
            double firstInGroup = h % group == 0 ? 0.0 : 1.0;   // beta: the group's first head writes, the rest add
            // y_h = att_h v_g: d att_h = dy_h v_gᵀ, d v_g += att_hᵀ dy_h
            be.gemmBatched(dAtt.select(1, h), dyHead, Transpose.NONE, head(v, h / group, hs), Transpose.TRANSPOSED,
                    1.0, 0.0);
            be.gemmBatched(head(dv, h / group, hs), att.select(1, h), Transpose.TRANSPOSED, dyHead, Transpose.NONE,
                    1.0, firstInGroup);
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
        for (int h = 0; h < heads; h++) {
            Tensor dScores = dAtt.select(1, h);
            double firstInGroup = h % group == 0 ? 0.0 : 1.0;
            // scores_h = q_h k_gᵀ: d q_h = dS k_g, d k_g += dSᵀ q_h
            be.gemmBatched(head(dq, h, hs), dScores, Transpose.NONE, head(k, h / group, hs), Transpose.NONE,
                    productScale, 0.0);
            be.gemmBatched(head(dk, h / group, hs), dScores, Transpose.TRANSPOSED, head(q, h, hs), Transpose.NONE,
                    productScale, firstInGroup);
        }
    }
}
