package dev.curvature.transformer.model;

/** What a linear layer does in its block; K-FAC's defaults and the edit's defaults are chosen by role. */
public enum LinearRole {
    /** Attention input projection: packed q|k|v (GPT-2 c_attn) or one of q_proj, k_proj, v_proj. */
    ATTN_QKV,
    /** Attention output projection (c_proj, o_proj). */
    ATTN_OUT,
    /** MLP up projection: GPT-2 c_fc, SwiGLU up_proj. */
    MLP_IN,
    /** SwiGLU gate projection (gate_proj); shares its input, and so its factor A, with up_proj. */
    MLP_GATE,
    /** MLP down projection: GPT-2 mlp.c_proj, SwiGLU down_proj. */
    MLP_OUT;

    /** Whether the layer is part of the MLP. */
    public boolean isMlp() {
        return this == MLP_IN || this == MLP_GATE || this == MLP_OUT;
    }
}
