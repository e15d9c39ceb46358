package dev.curvature.transformer.llama;

import dev.curvature.engine.Backend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.layers.CachedAttention;
import dev.curvature.transformer.layers.MultiHeadAttention;
import dev.curvature.transformer.layers.RotaryEmbedding;
import dev.curvature.transformer.model.DecoderLm;
import dev.curvature.transformer.model.KvCache;
import dev.curvature.transformer.model.ParameterSet;

/**
 * Llama and OLMo-2 on the shared decoder skeleton: RMSNorm, rotary embeddings (HF rotate-half), grouped-query
 * attention, a SwiGLU MLP, no biases, an untied or tied head.
 *
 * <pre>
 * x₀ = embed_tokens[ids]                                                        (N, C)
 * Llama  per block:  m = x + o(attn(rope(q(n₁(x))), rope(k(n₁(x))), v(n₁(x))))      n₁ = input_layernorm
 *                    x' = m + down(silu(gate(n₂(m))) ⊙ up(n₂(m)))                      n₂ = post_attention_layernorm
 * OLMo-2 per block:  m = x + n₁(o(attn(rope(qn(q(x))), rope(kn(k(x))), v(x))))      n₁ = post_attention_layernorm
 *                    x' = m + n₂(down(silu(gate(m)) ⊙ up(m)))                         n₂ = post_feedforward_layernorm
 *                    qn, kn: RMSNorm over the full q (H·d) and k (H_kv·d) widths (QK-norm)
 * logits = norm(x_L) · W_headᵀ,  W_head = lm_head, or embed_tokens when tied
 * </pre>
 * Linear layers are reported to observers by their HF names ("model.layers.3.mlp.gate_proj").
 */
public final class LlamaModel extends DecoderLm<LlamaActivations> {
    private final LlamaConfig config;

    public LlamaModel(Backend backend, ParameterSet weights) {
        super(backend, weights, LlamaActivations.class);
        if (!(weights.config() instanceof LlamaConfig llama)) {
            throw new IllegalArgumentException("a Llama-family model needs Llama-family parameters, got those of a "
                    + weights.config().modelType());
        }
        this.config = llama;
    }

    @Override
    public LlamaConfig config() {
        return config;
    }

    @Override
    protected LlamaActivations newWorkspace(int batch, int time) {
        return new LlamaActivations(backend, config, weights.dtype(), batch, time);
    }

    @Override
    public KvCache cache(int batch, int length) {
        return newCache(batch, length, config.keyWidth(), config.heads());
    }

    @Override
    protected String headWeight() {
        return config.tieWordEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight";
    }

    private Tensor w(int l, String suffix) {
        return weights.get(LlamaConfig.block(l, suffix));
    }

    @Override
    protected void embed(LlamaActivations act, int from) {
        backend.gatherRows(act.residual[0], weights.get("model.embed_tokens.weight"), act.ids);
    }

    @Override
    protected void blockForward(LlamaActivations act, int l, KvCache cache, int from) {
        String p = "model.layers." + l + ".";
        double eps = config.rmsNormEps();
        int d = config.headDim();
        boolean olmo = config.isOlmo2();
        Tensor x = act.residual[l];
        Tensor a = x;
        if (!olmo) {
            backend.rmsNorm(act.attnIn[l], act.attnInRstd[l], x, w(l, "input_layernorm.weight"), eps);
            a = act.attnIn[l];
        }
        linearForward(p + "self_attn.q_proj", act.qProj[l], a);
        linearForward(p + "self_attn.k_proj", act.kProj[l], a);
        linearForward(p + "self_attn.v_proj", act.v[l], a);
        if (olmo) {
            backend.rmsNorm(act.q[l], act.qNormRstd[l], act.qProj[l], w(l, "self_attn.q_norm.weight"), eps);
            backend.rmsNorm(act.k[l], act.kNormRstd[l], act.kProj[l], w(l, "self_attn.k_norm.weight"), eps);
        }
        RotaryEmbedding.forward(backend, act.q[l], act.ropeCos, act.ropeSin, d, act.time, from);
        RotaryEmbedding.forward(backend, act.k[l], act.ropeCos, act.ropeSin, d, act.time, from);
        CachedAttention.forward(backend, cache, l, from, act.batched(act.attY[l]), act.att[l], act.batched(act.q[l]),
                act.batched(act.k[l]), act.batched(act.v[l]), config.heads(), config.kvHeads());
        if (olmo) {
            linearForward(p + "self_attn.o_proj", act.attOut[l], act.attY[l]);
            backend.rmsNorm(act.mid[l], act.postAttnRstd[l], act.attOut[l], w(l, "post_attention_layernorm.weight"),
                    eps);
        } else {
            linearForward(p + "self_attn.o_proj", act.mid[l], act.attY[l]);
        }
        backend.add(act.mid[l], act.mid[l], x);
        if (!olmo) {
            backend.rmsNorm(act.mlpIn[l], act.mlpInRstd[l], act.mid[l], w(l, "post_attention_layernorm.weight"), eps);
        }
        linearForward(p + "mlp.gate_proj", act.gate[l], act.mlpIn[l]);
        linearForward(p + "mlp.up_proj", act.up[l], act.mlpIn[l]);
        backend.swiglu(act.hidden[l], act.gate[l], act.up[l]);
        Tensor out = act.residual[l + 1];
        if (olmo) {
            linearForward(p + "mlp.down_proj", act.mlpOut[l], act.hidden[l]);
            backend.rmsNorm(out, act.postMlpRstd[l], act.mlpOut[l], w(l, "post_feedforward_layernorm.weight"), eps);
        } else {
            linearForward(p + "mlp.down_proj", out, act.hidden[l]);
        }
        backend.add(out, out, act.mid[l]);
    }

    @Override
    protected void finalNormForward(LlamaActivations act) {
        backend.rmsNorm(act.finalHidden, act.finalRstd, act.residual[config.layers()], weights.get("model.norm.weight"),
                config.rmsNormEps());
    }

    @Override
    protected void finalNormBackward(LlamaActivations act, ParameterSet grads) {
        normBackward(act.dResidual, grads, act, "model.norm.weight", act.dFinalHidden, act.residual[config.layers()],
                act.finalRstd);
    }

    /** dx (act.dResidual) holds ∂/∂x' on entry and ∂/∂x on return. */
    @Override
    protected void blockBackward(LlamaActivations act, int l, ParameterSet grads) {
        String p = "model.layers." + l + ".";
        int d = config.headDim();
        boolean olmo = config.isOlmo2();
        Tensor dx = act.dResidual;
        // x' = m + M(m): the residual path leaves dx as ∂/∂m's first term
        Tensor dDown = dx;
        if (olmo) {
            // out = n₂(down): d down = n₂'ᵀ dx
            dDown = normBackward(act.dC, grads, act, p + "post_feedforward_layernorm.weight", dx, act.mlpOut[l],
                    act.postMlpRstd[l]);
        }
        linearBackward(p + "mlp.down_proj", act.dHidden, grads, dDown, act.hidden[l]);
        backend.swigluBackward(act.dGate, act.dUp, act.dHidden, act.gate[l], act.up[l]);
        linearBackward(p + "mlp.gate_proj", act.dC, grads, act.dGate, act.mlpIn[l]);
        linearBackward(p + "mlp.up_proj", act.dC2, grads, act.dUp, act.mlpIn[l]);
        backend.add(act.dC, act.dC, act.dC2);                  // ∂/∂(MLP input)
        if (olmo) {
            backend.add(dx, dx, act.dC);                       // the MLP input is m itself
        } else {
            backend.rmsNormBackward(dx, vectorGradient(grads, act, p + "post_attention_layernorm.weight"),
                    act.dC, act.mid[l],
                    w(l, "post_attention_layernorm.weight"), act.mlpInRstd[l]);
        }
        // dx = ∂/∂m; m = x + A(x)
        Tensor dO = dx;
        if (olmo) {
            dO = normBackward(act.dC, grads, act, p + "post_attention_layernorm.weight", dx, act.attOut[l],
                    act.postAttnRstd[l]);
        }
        linearBackward(p + "self_attn.o_proj", act.dAttY, grads, dO, act.attY[l]);
        MultiHeadAttention.backward(backend, act.batched(act.dQ), act.batched(act.dK), act.batched(act.dV), act.dAtt,
                act.batched(act.dAttY), act.batched(act.q[l]), act.batched(act.k[l]), act.batched(act.v[l]),
                act.att[l], config.heads(), config.kvHeads());
        RotaryEmbedding.backward(backend, act.dQ, act.ropeCos, act.ropeSin, d, act.time);
        RotaryEmbedding.backward(backend, act.dK, act.ropeCos, act.ropeSin, d, act.time);
        if (olmo) {
            normBackward(act.dQProj, grads, act, p + "self_attn.q_norm.weight", act.dQ, act.qProj[l], act.qNormRstd[l]);
            normBackward(act.dKProj, grads, act, p + "self_attn.k_norm.weight", act.dK, act.kProj[l], act.kNormRstd[l]);
        }
        Tensor a = olmo ? act.residual[l] : act.attnIn[l];
        linearBackward(p + "self_attn.q_proj", act.dC, grads, act.dQProj, a);
        linearBackward(p + "self_attn.k_proj", act.dC2, grads, act.dKProj, a);
        backend.add(act.dC, act.dC, act.dC2);
        linearBackward(p + "self_attn.v_proj", act.dC2, grads, act.dV, a);
        backend.add(act.dC, act.dC, act.dC2);                  // ∂/∂(attention input)
        if (olmo) {
            backend.add(dx, dx, act.dC);
        } else {
            backend.rmsNormBackward(dx, vectorGradient(grads, act, p + "input_layernorm.weight"),
                    act.dC, act.residual[l],
                    w(l, "input_layernorm.weight"), act.attnInRstd[l]);
        }
    }

    /** Writes dx = the RMSNorm backward of dy for y = norm(x) with weight {@code weight}: zeroed, then accumulated. */
    private Tensor normBackward(Tensor dx, ParameterSet grads, LlamaActivations act, String weight, Tensor dy,
                                Tensor x, Tensor rstd) {
        backend.fill(dx, 0.0);
        backend.rmsNormBackward(dx, vectorGradient(grads, act, weight), dy, x, weights.get(weight), rstd);
        return dx;
    }

    @Override
    protected void embedBackward(LlamaActivations act, ParameterSet grads) {
        backend.scatterAddRows(grads.get("model.embed_tokens.weight"), act.dResidual, act.ids);
    }
}
