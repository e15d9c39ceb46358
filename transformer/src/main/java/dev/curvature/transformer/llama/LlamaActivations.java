package dev.curvature.transformer.llama;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.layers.RotaryEmbedding;
import dev.curvature.transformer.model.DecoderWorkspace;


/**
 * Llama / OLMo-2 buffers for one forward/backward pass of a (B, T) batch, beside the decoder's common ones.
 * N = B·T rows; C = hidden; Q = H·d query width; K = H_kv·d key width; I = intermediate; P = context length.
 * Buffers only one of the two variants uses are allocated empty-shaped for the other.
 */
public final class LlamaActivations extends DecoderWorkspace {
    final Tensor ropeCos;             // (P, d/2) cos(p · inv_freq_i)
    final Tensor ropeSin;             // (P, d/2)
    final Tensor[] attnIn;            // L × (N, C) input_layernorm(x) (Llama; OLMo-2 attends to x itself)
    final Tensor[] attnInRstd;        // L × (N)
    final Tensor[] qProj;             // L × (N, Q) q_proj output (OLMo-2: before q_norm)
    final Tensor[] kProj;             // L × (N, K)
    final Tensor[] qNormRstd;         // L × (N) OLMo-2
    final Tensor[] kNormRstd;         // L × (N) OLMo-2
    final Tensor[] q;                 // L × (N, Q) after norm and rotary: attention's queries (Llama: = qProj)
    final Tensor[] k;                 // L × (N, K) (Llama: = kProj)
    final Tensor[] v;                 // L × (N, K)
    final Tensor[] att;               // L × (B, H, T, T) softmax probabilities
    final Tensor[] attY;              // L × (N, Q) heads merged, input of o_proj
    final Tensor[] attOut;            // L × (N, C) o_proj output before post_attention_layernorm (OLMo-2)
    final Tensor[] postAttnRstd;      // L × (N) OLMo-2
    final Tensor[] mid;               // L × (N, C) residual after attention
    final Tensor[] mlpIn;             // L × (N, C) post_attention_layernorm(mid) (Llama; OLMo-2: mid)
    final Tensor[] mlpInRstd;         // L × (N) Llama
    final Tensor[] gate;              // L × (N, I)
    final Tensor[] up;                // L × (N, I)
    final Tensor[] hidden;            // L × (N, I) silu(gate) ⊙ up, input of down_proj
    final Tensor[] mlpOut;            // L × (N, C) down_proj output before post_feedforward_layernorm (OLMo-2)
    final Tensor[] postMlpRstd;       // L × (N) OLMo-2
    final Tensor finalRstd;           // (N)

    // backward scratch
    final Tensor dC;                  // (N, C)
    final Tensor dC2;                 // (N, C)
    final Tensor dQ;                  // (N, Q)
    final Tensor dQProj;              // (N, Q) OLMo-2
    final Tensor dK;                  // (N, K)
    final Tensor dKProj;              // (N, K) OLMo-2
    final Tensor dV;                  // (N, K)
    final Tensor dAttY;               // (N, Q)
    final Tensor dAtt;                // (B, H, T, T)
    final Tensor dGate;               // (N, I)
    final Tensor dUp;                 // (N, I)
    final Tensor dHidden;             // (N, I)

    public LlamaActivations(Backend backend, LlamaConfig config, DType dtype, int batch, int time) {
        super(backend, config, dtype, batch, time);
        int layers = config.layers();
        boolean olmo = config.isOlmo2();
        long n = (long) batch * time;
        long c = config.hiddenSize();
        long qw = config.attentionWidth();
        long kw = config.keyWidth();
        long inner = config.intermediateSize();
        long h = config.heads();
        long llamaRows = olmo ? 0 : n;
        long olmoRows = olmo ? n : 0;
        ropeCos = alloc(dtype, "rope.cos", config.maxPositions(), config.headDim() / 2);
        ropeSin = alloc(dtype, "rope.sin", config.maxPositions(), config.headDim() / 2);
        RotaryEmbedding.tables(backend, ropeCos, ropeSin, config.inverseFrequencies());
        attnIn = new Tensor[layers];
        attnInRstd = new Tensor[layers];
        qProj = new Tensor[layers];
        kProj = new Tensor[layers];
        qNormRstd = new Tensor[layers];
        kNormRstd = new Tensor[layers];
        q = new Tensor[layers];
        k = new Tensor[layers];
        v = new Tensor[layers];
        att = new Tensor[layers];
        attY = new Tensor[layers];
        attOut = new Tensor[layers];
        postAttnRstd = new Tensor[layers];
        mid = new Tensor[layers];
        mlpIn = new Tensor[layers];
        mlpInRstd = new Tensor[layers];
        gate = new Tensor[layers];
        up = new Tensor[layers];
        hidden = new Tensor[layers];
        mlpOut = new Tensor[layers];
        postMlpRstd = new Tensor[layers];
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            attnIn[l] = alloc(dtype, p + "input_layernorm", llamaRows, c);
            attnInRstd[l] = alloc(dtype, p + "input_layernorm.rstd", llamaRows);
            qProj[l] = alloc(dtype, p + "self_attn.q_proj", n, qw);
            kProj[l] = alloc(dtype, p + "self_attn.k_proj", n, kw);
            qNormRstd[l] = alloc(dtype, p + "self_attn.q_norm.rstd", olmoRows);
            kNormRstd[l] = alloc(dtype, p + "self_attn.k_norm.rstd", olmoRows);
            q[l] = olmo ? alloc(dtype, p + "self_attn.q", n, qw) : qProj[l];
            k[l] = olmo ? alloc(dtype, p + "self_attn.k", n, kw) : kProj[l];
            v[l] = alloc(dtype, p + "self_attn.v_proj", n, kw);
            att[l] = alloc(dtype, p + "self_attn.att", batch, h, time, time);
            attY[l] = alloc(dtype, p + "self_attn.y", n, qw);
            attOut[l] = alloc(dtype, p + "self_attn.o_proj", olmoRows, c);
            postAttnRstd[l] = alloc(dtype, p + "post_attention_layernorm.rstd", n);
            mid[l] = alloc(dtype, p + "mid", n, c);
            mlpIn[l] = olmo ? mid[l] : alloc(dtype, p + "post_attention_layernorm", n, c);
            mlpInRstd[l] = postAttnRstd[l];
            gate[l] = alloc(dtype, p + "mlp.gate_proj", n, inner);
            up[l] = alloc(dtype, p + "mlp.up_proj", n, inner);
            hidden[l] = alloc(dtype, p + "mlp.hidden", n, inner);
            mlpOut[l] = alloc(dtype, p + "mlp.down_proj", olmoRows, c);
            postMlpRstd[l] = alloc(dtype, p + "post_feedforward_layernorm.rstd", olmoRows);
        }
        finalRstd = alloc(dtype, "model.norm.rstd", n);
        dC = alloc(dtype, "d.hidden", n, c);
        dC2 = alloc(dtype, "d.hidden2", n, c);
        dQ = alloc(dtype, "d.q", n, qw);
        dQProj = olmo ? alloc(dtype, "d.q_proj", n, qw) : dQ;
        dK = alloc(dtype, "d.k", n, kw);
        dKProj = olmo ? alloc(dtype, "d.k_proj", n, kw) : dK;
        dV = alloc(dtype, "d.v", n, kw);
        dAttY = alloc(dtype, "d.attn.y", n, qw);
        dAtt = alloc(dtype, "d.attn.att", batch, h, time, time);
        dGate = alloc(dtype, "d.mlp.gate", n, inner);
        dUp = alloc(dtype, "d.mlp.up", n, inner);
        dHidden = alloc(dtype, "d.mlp.hidden", n, inner);
    }
}
