package dev.curvature.transformer.gpt2;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.engine.Transpose;
import dev.curvature.transformer.LinearObserver;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.layers.CausalSelfAttention;
import dev.curvature.transformer.layers.Linear;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * GPT-2 (pre-LayerNorm decoder, learned positions, tanh GELU, LM head tied to the token embedding), forward and
 * backward written out layer by layer over a {@link Backend}.
 *
 * <pre>
 * x₀ = wte[ids] + wpe[0..T)                                    (N, C)
 * per block l:  m = x + attn(ln_1(x));  x' = m + mlp(ln_2(m))
 *   attn(h) = c_proj(causal_attention(c_attn(h)))   mlp(h) = c_proj(gelu(c_fc(h)))
 * logits = ln_f(x_L) · wteᵀ                                      (N, V)
 * loss   = mean over counted positions of −log softmax(logits)[target]   (target −1: ignored)
 * </pre>
 * Linear layers are reported to {@link LinearObserver}s by their HF names ("h.3.mlp.c_fc").
 */
public final class Gpt2Model {
    private final Backend backend;
    private final Gpt2Config config;
    private final Gpt2Parameters weights;
    private final List<LinearObserver> observers = new CopyOnWriteArrayList<>();

    public Gpt2Model(Backend backend, Gpt2Parameters weights) {
        this.backend = backend;
        this.config = weights.config();
        this.weights = weights;
    }

    public Gpt2Config config() {
        return config;
    }

    public Gpt2Parameters weights() {
        return weights;
    }

    public Backend backend() {
        return backend;
    }

    public DType dtype() {
        return weights.dtype();
    }

    public void addObserver(LinearObserver observer) {
        observers.add(observer);
    }

    public void removeObserver(LinearObserver observer) {
        observers.remove(observer);
    }

    /** Buffers for batches of {@code batch} sequences of {@code time} tokens. */
    public Gpt2Activations activations(int batch, int time) {
        return new Gpt2Activations(backend, config, weights.dtype(), batch, time);
    }

    /** Gradient buffers shaped like the weights (zero). */
    public Gpt2Parameters allocateGradients() {
        return Gpt2Parameters.allocate(backend, config, weights.dtype());
    }

    /**
     * Runs the model on {@code ids} (B·T token ids, row-major (B, T)) and scores {@code targets} (B·T, −1 where a
     * position is not scored). Returns the mean cross-entropy over scored positions (NaN when none is scored).
     * Logits, losses and everything backward needs stay in {@code act}.
     */
    public double forward(Gpt2Activations act, int[] ids, int[] targets) {
        loadTokens(act, ids, targets);
        embed(act);
        return forwardFromEmbeddings(act);
    }

    /** Copies ids and targets into the activations, checking ranges. */
    private void loadTokens(Gpt2Activations act, int[] ids, int[] targets) {
        long n = (long) act.batch * act.time;
        if (ids.length != n || targets.length != n) {
            throw new IllegalArgumentException("expected " + n + " ids and targets for batch " + act.batch + " × "
                    + act.time + ", got " + ids.length + " ids and " + targets.length + " targets");
        }
        for (int i = 0; i < n; i++) {
            if (ids[i] < 0 || ids[i] >= config.vocabSize()) {
                throw new IllegalArgumentException("token id " + ids[i] + " at position " + i + " is outside the vocabulary"
                        + " (0.." + (config.vocabSize() - 1) + ")");
            }
        }
        writeInts(act.ids, ids);
        storeTargets(act, targets);
    }

    /** Checks targets (−1 or a token id), copies them into the activations and counts the scored positions. */
    private void storeTargets(Gpt2Activations act, int[] targets) {
        long counted = 0;
        for (int i = 0; i < targets.length; i++) {
            if (targets[i] < -1 || targets[i] >= config.vocabSize()) {
                throw new IllegalArgumentException("target " + targets[i] + " at position " + i
                        + " must be −1 (ignored) or a token id below " + config.vocabSize());
            }
            counted += targets[i] >= 0 ? 1 : 0;
        }
        writeInts(act.targets, targets);
        act.counted = counted;
    }

    private static void writeInts(Tensor t, int[] values) {
        java.lang.foreign.MemorySegment.copy(values, 0, t.segment(), java.lang.foreign.ValueLayout.JAVA_INT, 0,
                values.length);
    }

    /** x₀ (N, C) = wte[ids] + wpe[t] for the position t of each row. */
    private void embed(Gpt2Activations act) {
        Tensor x0 = act.residual[0];
        backend.gatherRows(x0, weights.get("wte.weight"), act.ids);
        Tensor positions = weights.get("wpe.weight").slice(0, 0, act.time);
        for (int b = 0; b < act.batch; b++) {
            Tensor rows = x0.slice(0, (long) b * act.time, (long) (b + 1) * act.time);
            backend.add(rows, rows, positions);
        }
    }

    /**
     * The forward pass from x₀ = {@code act.residual[0]} (already filled: by {@link #forward}, or by a caller that
     * perturbs input embeddings). Returns the mean loss over scored positions.
     */
    public double forwardFromEmbeddings(Gpt2Activations act) {
        int heads = config.nHead();
        double eps = config.layerNormEpsilon();
        for (int l = 0; l < config.nLayer(); l++) {
            String p = "h." + l + ".";
            Tensor x = act.residual[l];
            backend.layerNorm(act.ln1[l], act.ln1Mean[l], act.ln1Rstd[l], x, weights.block(l, "ln_1.weight"),
                    weights.block(l, "ln_1.bias"), eps);
            linearForward(p + "attn.c_attn", act.qkv[l], act.ln1[l]);
            CausalSelfAttention.forward(backend, batched(act, act.attY[l]), act.att[l], batched(act, act.qkv[l]), heads);
            linearForward(p + "attn.c_proj", act.mid[l], act.attY[l]);
            backend.add(act.mid[l], act.mid[l], x);
            backend.layerNorm(act.ln2[l], act.ln2Mean[l], act.ln2Rstd[l], act.mid[l], weights.block(l, "ln_2.weight"),
                    weights.block(l, "ln_2.bias"), eps);
            linearForward(p + "mlp.c_fc", act.fc[l], act.ln2[l]);
            backend.geluTanh(act.gelu[l], act.fc[l]);
            linearForward(p + "mlp.c_proj", act.residual[l + 1], act.gelu[l]);
            backend.add(act.residual[l + 1], act.residual[l + 1], act.mid[l]);
        }
        backend.layerNorm(act.lnf, act.lnfMean, act.lnfRstd, act.residual[config.nLayer()],
                weights.get("ln_f.weight"), weights.get("ln_f.bias"), eps);
        backend.gemm(act.logits, act.lnf, Transpose.NONE, weights.get("wte.weight"), Transpose.TRANSPOSED, 1.0, 0.0);
        backend.crossEntropy(act.losses, act.logSumExp, act.logits, act.targets);
        return act.counted == 0 ? Double.NaN : backend.sum(act.losses) / act.counted;
    }

    /**
     * Replaces the targets of the last forward (e.g. by labels sampled from the model's own softmax) and recomputes
     * the per-position losses from the kept logits, without re-running the forward pass. Returns the new mean loss.
     */
    public double retarget(Gpt2Activations act, int[] targets) {
        long n = (long) act.batch * act.time;
        if (targets.length != n) {
            throw new IllegalArgumentException("expected " + n + " targets, got " + targets.length);
        }
        storeTargets(act, targets);
        backend.crossEntropy(act.losses, act.logSumExp, act.logits, act.targets);
        return act.counted == 0 ? Double.NaN : backend.sum(act.losses) / act.counted;
    }

    /**
     * Backward of the mean loss over scored positions: accumulates every parameter gradient into {@code grads}
     * and writes ∂loss/∂x₀ to {@link Gpt2Activations#inputEmbeddingGradient()}.
     */
    public void backward(Gpt2Activations act, Gpt2Parameters grads) {
        backward(act, grads, act.counted == 0 ? 0.0 : 1.0 / act.counted);
    }

    /**
     * Backward of {@code scale · Σ_i loss_i} over scored positions i (scale = 1/count gives the mean loss; 1 gives
     * the summed loss, whose per-position output gradients K-FAC accumulates). Accumulates into {@code grads}.
     */
    public void backward(Gpt2Activations act, Gpt2Parameters grads, double scale) {
        int heads = config.nHead();
        Tensor wte = weights.get("wte.weight");
        Tensor dLogits = act.logits;   // overwritten in place
        backend.crossEntropyBackward(dLogits, act.logits, act.logSumExp, act.targets, scale);
        // logits = lnf · wteᵀ: d lnf = dLogits · wte, d wte += dLogitsᵀ · lnf
        backend.gemm(act.dLn, dLogits, Transpose.NONE, wte, Transpose.NONE, 1.0, 0.0);
        backend.gemm(grads.get("wte.weight"), dLogits, Transpose.TRANSPOSED, act.lnf, Transpose.NONE, 1.0, 1.0);
        Tensor dx = act.dResidual;
        backend.fill(dx, 0.0);
        backend.layerNormBackward(dx, grads.get("ln_f.weight"), grads.get("ln_f.bias"), act.dLn,
                act.residual[config.nLayer()], weights.get("ln_f.weight"), act.lnfMean, act.lnfRstd);
        for (int l = config.nLayer() - 1; l >= 0; l--) {
            String p = "h." + l + ".";
            // x' = m + c_proj(gelu(c_fc(ln_2(m)))): dx holds dx'
            linearBackward(p + "mlp.c_proj", act.dGelu, grads, dx, act.gelu[l]);
            backend.geluTanhBackward(act.dFc, act.dGelu, act.fc[l]);
            linearBackward(p + "mlp.c_fc", act.dLn, grads, act.dFc, act.ln2[l]);
            backend.layerNormBackward(dx, grads.block(l, "ln_2.weight"), grads.block(l, "ln_2.bias"), act.dLn,
                    act.mid[l], weights.block(l, "ln_2.weight"), act.ln2Mean[l], act.ln2Rstd[l]);
            // dx now holds dm; m = x + c_proj(attention(c_attn(ln_1(x))))
            linearBackward(p + "attn.c_proj", act.dAttY, grads, dx, act.attY[l]);
            CausalSelfAttention.backward(backend, batched(act, act.dQkv), act.dAtt, batched(act, act.dAttY),
                    batched(act, act.qkv[l]), act.att[l], heads);
            linearBackward(p + "attn.c_attn", act.dLn, grads, act.dQkv, act.ln1[l]);
            backend.layerNormBackward(dx, grads.block(l, "ln_1.weight"), grads.block(l, "ln_1.bias"), act.dLn,
                    act.residual[l], weights.block(l, "ln_1.weight"), act.ln1Mean[l], act.ln1Rstd[l]);
        }
        // dx = ∂/∂x₀ (left in act.dResidual: the input-embedding gradient); x₀ = wte[ids] + wpe[t]
        backend.scatterAddRows(grads.get("wte.weight"), dx, act.ids);
        Tensor dPositions = grads.get("wpe.weight").slice(0, 0, act.time);
        for (int b = 0; b < act.batch; b++) {
            backend.axpy(dPositions, dx.slice(0, (long) b * act.time, (long) (b + 1) * act.time), 1.0);
        }
    }

    private void linearForward(String name, Tensor y, Tensor x) {
        for (LinearObserver o : observers) {
            if (o.observes(name)) {
                o.onInput(name, x);
            }
        }
        Linear.forward(backend, y, x, weights.get(name + ".weight"), weights.get(name + ".bias"));
        for (LinearObserver o : observers) {
            if (o.observes(name)) {
                o.onOutput(name, y);
            }
        }
    }

    private void linearBackward(String name, Tensor dx, Gpt2Parameters grads, Tensor dy, Tensor x) {
        for (LinearObserver o : observers) {
            if (o.observes(name)) {
                o.onOutputGradient(name, dy);
            }
        }
        Linear.backward(backend, dx, grads.get(name + ".weight"), grads.get(name + ".bias"), dy, x,
                weights.get(name + ".weight"));
    }

    /** (N, W) rows viewed as (B, T, W). */
    private static Tensor batched(Gpt2Activations act, Tensor rows) {
        return rows.reshape(act.batch, act.time, rows.dim(1));
    }
}
