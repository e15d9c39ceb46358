package dev.curvature.transformer.gpt2;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.engine.Transpose;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.layers.Linear;

import java.lang.foreign.Arena;

/**
 * Batched greedy decoding with a key/value cache: each new token costs one row per sequence through every layer,
 * attending over the cached keys and values of all earlier positions (instead of recomputing the prefix).
 * All sequences of a call share one prompt length; prompt + generated tokens must fit in the generator's length
 * (n_positions unless a shorter one is given, which also shrinks the caches).
 */
public final class Gpt2Generator implements AutoCloseable {
    private final Gpt2Model model;
    private final Backend backend;
    private final Gpt2Config config;
    private final int batch;
    private final Arena arena;
    private final int maxLength;       // P: positions the caches hold (prompt + new tokens ≤ P ≤ n_positions)
    private final Tensor[] keys;       // L × (B, P, C)
    private final Tensor[] values;     // L × (B, P, C)
    private final Tensor x;            // (B, C) residual stream of the current position
    private final Tensor h;            // (B, C) LayerNorm output
    private final Tensor mean;         // (B)
    private final Tensor rstd;         // (B)
    private final Tensor qkv;          // (B, 3C)
    private final Tensor attY;         // (B, C)
    private final Tensor proj;         // (B, C)
    private final Tensor fc;           // (B, F)
    private final Tensor scores;       // (1, P) one head's attention row
    private final Tensor logits;       // (B, V)
    private final Tensor ids;          // (B) I32
    private final double[] row;        // (V) one sequence's logits, read back for the argmax

    /** A generator whose caches hold all n_positions positions. */
    public Gpt2Generator(Gpt2Model model, int batch) {
        this(model, batch, model.config().nPositions());
    }

    /** A generator for prompt + new tokens of at most {@code maxLength} positions (caches sized to it). */
    public Gpt2Generator(Gpt2Model model, int batch, int maxLength) {
        if (maxLength < 1 || maxLength > model.config().nPositions()) {
            throw new IllegalArgumentException("generator length " + maxLength + " must be in [1, "
                    + model.config().nPositions() + "]");
        }
        this.maxLength = maxLength;
        this.model = model;
        this.backend = model.backend();
        this.config = model.config();
        this.batch = batch;
        this.arena = Arena.ofShared();
        DType dtype = model.dtype();
        int c = config.nEmbd();
        int p = maxLength;
        keys = new Tensor[config.nLayer()];
        values = new Tensor[config.nLayer()];
        for (int l = 0; l < config.nLayer(); l++) {
            keys[l] = backend.allocate(arena, dtype, batch, p, c).named("h." + l + ".attn.key_cache");
            values[l] = backend.allocate(arena, dtype, batch, p, c).named("h." + l + ".attn.value_cache");
        }
        x = backend.allocate(arena, dtype, batch, c);
        h = backend.allocate(arena, dtype, batch, c);
        mean = backend.allocate(arena, dtype, batch);
        rstd = backend.allocate(arena, dtype, batch);
        qkv = backend.allocate(arena, dtype, batch, 3L * c);
        attY = backend.allocate(arena, dtype, batch, c);
        proj = backend.allocate(arena, dtype, batch, c);
        fc = backend.allocate(arena, dtype, batch, config.nInner());
        scores = backend.allocate(arena, dtype, 1, p);
        logits = backend.allocate(arena, dtype, batch, config.vocabSize());
        ids = backend.allocate(arena, DType.I32, batch);
        row = new double[config.vocabSize()];
    }

    /**
     * Greedy continuation of {@code prompts} (B sequences of equal length ≥ 1) by {@code newTokens} tokens each;
     * returns the new tokens (B, newTokens). Ties in the argmax go to the lowest token id.
     */
    public int[][] greedy(int[][] prompts, int newTokens) {
        if (prompts.length != batch) {
            throw new IllegalArgumentException("generator was built for batch " + batch + ", got " + prompts.length
                    + " prompts");
        }
        int length = prompts[0].length;
        for (int[] prompt : prompts) {
            if (prompt.length != length || length == 0) {
                throw new IllegalArgumentException("prompts of one call must share one length >= 1");
            }
        }
        if (length + newTokens > maxLength) {
            throw new IllegalArgumentException("prompt of " + length + " + " + newTokens + " new tokens exceeds the "
                    + maxLength + " positions of this generator (the model has " + config.nPositions() + ")");
        }
        int[][] out = new int[batch][newTokens];
        int[] current = new int[batch];
        for (int t = 0; t < length + newTokens - 1; t++) {
            for (int b = 0; b < batch; b++) {
                current[b] = t < length ? prompts[b][t] : out[b][t - length];
            }
            step(current, t);
            if (t >= length - 1) {   // only these positions' logits are used: prompt positions only fill the caches
                computeLogits();
                int[] next = argmax();
                for (int b = 0; b < batch; b++) {
                    out[b][t - length + 1] = next[b];
                }
            }
        }
        return out;
    }

    /**
     * Runs the token {@code tokens[b]} at position t of every sequence through the blocks, filling the caches;
     * leaves the final residual stream in x (B, C).
     */
    private void step(int[] tokens, int t) {
        Gpt2Parameters w = model.weights();
        int c = config.nEmbd();
        int heads = config.nHead();
        int hs = config.headSize();
        double eps = config.layerNormEpsilon();
        java.lang.foreign.MemorySegment.copy(tokens, 0, ids.segment(), java.lang.foreign.ValueLayout.JAVA_INT, 0,
                tokens.length);
        backend.gatherRows(x, w.get("wte.weight"), ids);
        backend.addRowVector(x, w.get("wpe.weight").select(0, t));
        for (int l = 0; l < config.nLayer(); l++) {
            String p = "h." + l + ".";
            backend.layerNorm(h, mean, rstd, x, w.block(l, "ln_1.weight"), w.block(l, "ln_1.bias"), eps);
            Linear.forward(backend, qkv, h, w.get(p + "attn.c_attn.weight"), w.get(p + "attn.c_attn.bias"));
            backend.copy(keys[l].select(1, t), qkv.slice(1, c, 2L * c));
            backend.copy(values[l].select(1, t), qkv.slice(1, 2L * c, 3L * c));
            Tensor row = scores.slice(1, 0, t + 1);
            for (int b = 0; b < batch; b++) {
                Tensor keysB = keys[l].select(0, b).slice(0, 0, t + 1);        // (t+1, C)
                Tensor valuesB = values[l].select(0, b).slice(0, 0, t + 1);
                for (int head = 0; head < heads; head++) {
                    long from = (long) head * hs;
                    Tensor q = qkv.slice(0, b, b + 1).slice(1, from, from + hs);   // (1, hs)
                    backend.gemm(row, q, Transpose.NONE, keysB.slice(1, from, from + hs), Transpose.TRANSPOSED,
                            1.0 / Math.sqrt(hs), 0.0);
                    backend.softmaxRows(row, row);
                    backend.gemm(attY.slice(0, b, b + 1).slice(1, from, from + hs), row, Transpose.NONE,
                            valuesB.slice(1, from, from + hs), Transpose.NONE, 1.0, 0.0);
                }
            }
            Linear.forward(backend, proj, attY, w.get(p + "attn.c_proj.weight"), w.get(p + "attn.c_proj.bias"));
            backend.add(x, x, proj);
            backend.layerNorm(h, mean, rstd, x, w.block(l, "ln_2.weight"), w.block(l, "ln_2.bias"), eps);
            Linear.forward(backend, fc, h, w.get(p + "mlp.c_fc.weight"), w.get(p + "mlp.c_fc.bias"));
            backend.geluTanh(fc, fc);
            Linear.forward(backend, proj, fc, w.get(p + "mlp.c_proj.weight"), w.get(p + "mlp.c_proj.bias"));
            backend.add(x, x, proj);
        }
    }

    /** logits (B, V) = ln_f(x) · wteᵀ, from the residual stream the last {@link #step} left in x. */
    private void computeLogits() {
        Gpt2Parameters w = model.weights();
        backend.layerNorm(h, mean, rstd, x, w.get("ln_f.weight"), w.get("ln_f.bias"), config.layerNormEpsilon());
        backend.gemm(logits, h, Transpose.NONE, w.get("wte.weight"), Transpose.TRANSPOSED, 1.0, 0.0);
    }

    /** The argmax of every sequence's logits row, read back one row (V) at a time. */
    private int[] argmax() {
        int v = config.vocabSize();
        int[] best = new int[batch];
        for (int b = 0; b < batch; b++) {
            logits.readRow(b, row);
            best[b] = argmax(row, 0, v);
        }
        return best;
    }

    /** Index (relative to {@code from}) of the largest of values[from, from + count); ties go to the lowest index. */
    public static int argmax(double[] values, int from, int count) {
        int arg = 0;
        for (int i = 1; i < count; i++) {
            if (values[from + i] > values[from + arg]) {
                arg = i;
            }
        }
        return arg;
    }

    /** Greedy continuation by full recomputation of the whole sequence for every new token (the reference). */
    public static int[][] greedyByRecomputation(Gpt2Model model, int[][] prompts, int newTokens) {
        int batch = prompts.length;
        int length = prompts[0].length;
        int v = model.config().vocabSize();
        int[][] out = new int[batch][newTokens];
        for (int n = 0; n < newTokens; n++) {
            int time = length + n;
            int[] ids = new int[batch * time];
            int[] targets = new int[batch * time];
            java.util.Arrays.fill(targets, -1);
            for (int b = 0; b < batch; b++) {
                for (int t = 0; t < time; t++) {
                    ids[b * time + t] = t < length ? prompts[b][t] : out[b][t - length];
                }
            }
            try (Gpt2Activations act = model.activations(batch, time)) {
                model.forward(act, ids, targets);
                double[] logits = act.logits().toDoubleArray();
                for (int b = 0; b < batch; b++) {
                    out[b][n] = argmax(logits, (b * time + time - 1) * v, v);
                }
            }
        }
        return out;
    }

    @Override
    public void close() {
        arena.close();
    }
}
