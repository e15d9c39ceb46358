package dev.curvature.transformer.layers;

import dev.curvature.engine.Backend;
import dev.curvature.engine.Tensor;
import dev.curvature.engine.Transpose;

/**
 * The core of multi-head causal self-attention, between the QKV projection and the output projection:
 * per head h, att_h = causal_softmax(q_h k_hᵀ / √hs), y_h = att_h v_h. Heads are column slices of the packed
 * qkv rows (q | k | v, each C wide, head h at columns h·hs .. (h+1)·hs), so no data is reshuffled.
 */
public final class CausalSelfAttention {
    private CausalSelfAttention() {
    }

    private static Tensor head(Tensor packed, int part, int head, int headSize, int width) {
        long from = (long) part * width + (long) head * headSize;
        return packed.slice(2, from, from + headSize);
    }

    /**
     * qkv (B, T, 3C) → writes att (B, H, T, T) (softmax probabilities, kept for backward) and y (B, T, C).
     */
    public static void forward(Backend be, Tensor y, Tensor att, Tensor qkv, int heads) {
        int width = (int) y.dim(2);
        int hs = width / heads;
        for (int h = 0; h < heads; h++) {
            Tensor attHead = att.select(1, h);                                            // (B, T, T)
            be.gemmBatched(attHead, head(qkv, 0, h, hs, width), Transpose.NONE, head(qkv, 1, h, hs, width),
                    Transpose.TRANSPOSED, 1.0, 0.0);
        }
        be.causalSoftmax(att, att, 1.0 / Math.sqrt(hs));
        for (int h = 0; h < heads; h++) {
            be.gemmBatched(head(y, 0, h, hs, width), att.select(1, h), Transpose.NONE, head(qkv, 2, h, hs, width),
                    Transpose.NONE, 1.0, 0.0);
        }
    }

    /**
     * dy (B, T, C) → writes dqkv (B, T, 3C); uses dAtt (B, H, T, T) as scratch. Needs qkv and att from forward.
     */
    public static void backward(Backend be, Tensor dqkv, Tensor dAtt, Tensor dy, Tensor qkv, Tensor att, int heads) {
        int width = (int) dy.dim(2);
        int hs = width / heads;
        for (int h = 0; h < heads; h++) {
            Tensor dyHead = head(dy, 0, h, hs, width);
            // y_h = att_h v_h: d att_h = dy_h v_hᵀ, d v_h = att_hᵀ dy_h
            be.gemmBatched(dAtt.select(1, h), dyHead, Transpose.NONE, head(qkv, 2, h, hs, width),
                    Transpose.TRANSPOSED, 1.0, 0.0);
            be.gemmBatched(head(dqkv, 2, h, hs, width), att.select(1, h), Transpose.TRANSPOSED, dyHead,
                    Transpose.NONE, 1.0, 0.0);
        }
        be.causalSoftmaxBackward(dAtt, dAtt, att, 1.0 / Math.sqrt(hs));   // now d(q kᵀ), the 1/√hs included
        for (int h = 0; h < heads; h++) {
            Tensor dScores = dAtt.select(1, h);
            // scores_h = q_h k_hᵀ: d q_h = dS k_h, d k_h = dSᵀ q_h
            be.gemmBatched(head(dqkv, 0, h, hs, width), dScores, Transpose.NONE, head(qkv, 1, h, hs, width),
                    Transpose.NONE, 1.0, 0.0);
            be.gemmBatched(head(dqkv, 1, h, hs, width), dScores, Transpose.TRANSPOSED, head(qkv, 0, h, hs, width),
                    Transpose.NONE, 1.0, 0.0);
        }
    }
}
