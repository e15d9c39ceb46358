package dev.curvature.transformer.gpt2;

import dev.curvature.engine.Backend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.layers.CachedAttention;
import dev.curvature.transformer.layers.MultiHeadAttention;
import dev.curvature.transformer.model.DecoderLm;
import dev.curvature.transformer.model.KvCache;
import dev.curvature.transformer.model.ParameterSet;

/**
 * GPT-2 (pre-LayerNorm decoder, learned positions, tanh GELU, LM head tied to the token embedding) on the shared
 * decoder skeleton: this class is its embedding, its block and its final norm, forward and backward.
 *
 * <pre>
 * x₀ = wte[ids] + wpe[from..from+T)                              (N, C)
 * per block l:  m = x + attn(ln_1(x));  x' = m + mlp(ln_2(m))
 *   attn(h) = c_proj(causal_attention(c_attn(h)))   mlp(h) = c_proj(gelu(c_fc(h)))
 * logits = ln_f(x_L) · wteᵀ                                      (N, V)
 * </pre>
 * Linear layers are reported to observers by their HF names ("h.3.mlp.c_fc").
 */
public final class Gpt2Model extends DecoderLm<Gpt2Activations> {
    private final Gpt2Config config;

    public Gpt2Model(Backend backend, ParameterSet weights) {
        super(backend, weights, Gpt2Activations.class);
        if (!(weights.config() instanceof Gpt2Config gpt2)) {
            throw new IllegalArgumentException("GPT-2 needs GPT-2 parameters, got those of a "
                    + weights.config().modelType());
        }
        this.config = gpt2;
    }

    @Override
    public Gpt2Config config() {
        return config;
    }

    /** Same as {@link #parameters()}. */
    public ParameterSet weights() {
        return weights;
    }

    /** Buffers for batches of {@code batch} sequences of {@code time} tokens. */
    public Gpt2Activations activations(int batch, int time) {
        return workspace(batch, time);
    }

    @Override
    protected Gpt2Activations newWorkspace(int batch, int time) {
        return new Gpt2Activations(backend, config, weights.dtype(), batch, time);
    }

    @Override
    public KvCache cache(int batch, int length) {
        return newCache(batch, length, config.nEmbd(), config.nHead());
    }

    @Override
    protected String headWeight() {
        return "wte.weight";
    }

    private Tensor block(int l, String suffix) {
        return weights.get("h." + l + "." + suffix);
    }

    /** x₀ (N, C) = wte[ids] + wpe[from + t] for the position t of each row. */
    @Override
    protected void embed(Gpt2Activations act, int from) {
        Tensor x0 = act.residual[0];
        backend.gatherRows(x0, weights.get("wte.weight"), act.ids);
        Tensor positions = weights.get("wpe.weight").slice(0, from, from + act.time);
        for (int b = 0; b < act.batch; b++) {
            Tensor rows = x0.slice(0, (long) b * act.time, (long) (b + 1) * act.time);
            backend.add(rows, rows, positions);
        }
    }

    @Override
    protected void blockForward(Gpt2Activations act, int l, KvCache cache, int from) {
        String p = "h." + l + ".";
        double eps = config.layerNormEpsilon();
        long c = config.nEmbd();
        Tensor x = act.residual[l];
        backend.layerNorm(act.ln1[l], act.ln1Mean[l], act.ln1Rstd[l], x, block(l, "ln_1.weight"),
                block(l, "ln_1.bias"), eps);
        linearForward(p + "attn.c_attn", act.qkv[l], act.ln1[l]);
        Tensor qkv = act.batched(act.qkv[l]);                                  // (B, T, 3C)
        Tensor q = qkv.slice(2, 0, c);
        Tensor k = qkv.slice(2, c, 2 * c);
        Tensor v = qkv.slice(2, 2 * c, 3 * c);
        CachedAttention.forward(backend, cache, l, from, act.batched(act.attY[l]), act.att[l], q, k, v, config.nHead(),
                config.nHead());
        linearForward(p + "attn.c_proj", act.mid[l], act.attY[l]);
        backend.add(act.mid[l], act.mid[l], x);
        backend.layerNorm(act.ln2[l], act.ln2Mean[l], act.ln2Rstd[l], act.mid[l], block(l, "ln_2.weight"),
                block(l, "ln_2.bias"), eps);
        linearForward(p + "mlp.c_fc", act.fc[l], act.ln2[l]);
        backend.geluTanh(act.gelu[l], act.fc[l]);
        linearForward(p + "mlp.c_proj", act.residual[l + 1], act.gelu[l]);
        backend.add(act.residual[l + 1], act.residual[l + 1], act.mid[l]);
    }

    @Override
    protected void finalNormForward(Gpt2Activations act) {
        backend.layerNorm(act.finalHidden, act.lnfMean, act.lnfRstd, act.residual[config.nLayer()],
                weights.get("ln_f.weight"), weights.get("ln_f.bias"), config.layerNormEpsilon());
    }

    @Override
    protected void finalNormBackward(Gpt2Activations act, ParameterSet grads) {
        backend.fill(act.dResidual, 0.0);
        backend.layerNormBackward(act.dResidual, vectorGradient(grads, act, "ln_f.weight"),
                vectorGradient(grads, act, "ln_f.bias"), act.dFinalHidden,
                act.residual[config.nLayer()], weights.get("ln_f.weight"), act.lnfMean, act.lnfRstd);
    }

    @Override
    protected void blockBackward(Gpt2Activations act, int l, ParameterSet grads) {
        String p = "h." + l + ".";
        long c = config.nEmbd();
        Tensor dx = act.dResidual;
        // x' = m + c_proj(gelu(c_fc(ln_2(m)))): dx holds dx'
        linearBackward(p + "mlp.c_proj", act.dGelu, grads, dx, act.gelu[l]);
        backend.geluTanhBackward(act.dFc, act.dGelu, act.fc[l]);
        linearBackward(p + "mlp.c_fc", act.dLn, grads, act.dFc, act.ln2[l]);
        backend.layerNormBackward(dx, vectorGradient(grads, act, p + "ln_2.weight"),
                vectorGradient(grads, act, p + "ln_2.bias"), act.dLn,
                act.mid[l], block(l, "ln_2.weight"), act.ln2Mean[l], act.ln2Rstd[l]);
        // dx now holds dm; m = x + c_proj(attention(c_attn(ln_1(x))))
        linearBackward(p + "attn.c_proj", act.dAttY, grads, dx, act.attY[l]);
        Tensor qkv = act.batched(act.qkv[l]);
        Tensor dQkv = act.batched(act.dQkv);
        MultiHeadAttention.backward(backend, dQkv.slice(2, 0, c), dQkv.slice(2, c, 2 * c), dQkv.slice(2, 2 * c, 3 * c),
                act.dAtt, act.batched(act.dAttY), qkv.slice(2, 0, c), qkv.slice(2, c, 2 * c),
                qkv.slice(2, 2 * c, 3 * c), act.att[l], config.nHead(), config.nHead());
        linearBackward(p + "attn.c_attn", act.dLn, grads, act.dQkv, act.ln1[l]);
        backend.layerNormBackward(dx, vectorGradient(grads, act, p + "ln_1.weight"),
                vectorGradient(grads, act, p + "ln_1.bias"), act.dLn,
                act.residual[l], block(l, "ln_1.weight"), act.ln1Mean[l], act.ln1Rstd[l]);
    }

    /** x₀ = wte[ids] + wpe[t]: the gradient dx₀ (act.dResidual) goes to the looked-up rows and the positions. */
    @Override
    protected void embedBackward(Gpt2Activations act, ParameterSet grads) {
        Tensor dx = act.dResidual;
        backend.scatterAddRows(grads.get("wte.weight"), dx, act.ids);
        Tensor dPositions = grads.get("wpe.weight").slice(0, 0, act.time);
        for (int b = 0; b < act.batch; b++) {
            backend.axpy(dPositions, dx.slice(0, (long) b * act.time, (long) (b + 1) * act.time), 1.0);
        }
    }
}
