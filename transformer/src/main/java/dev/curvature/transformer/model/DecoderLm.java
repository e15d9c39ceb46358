package dev.curvature.transformer.model;

import dev.curvature.engine.Backend;
import dev.curvature.engine.Tensor;
import dev.curvature.engine.Transpose;
import dev.curvature.transformer.LinearObserver;
import dev.curvature.transformer.layers.Linear;
import dev.curvature.transformer.model.Batch;

/**
 * The skeleton every decoder-only LM shares, written once: tokens in, embeddings, L blocks, a final norm, the LM
 * head and the cross-entropy; backward in reverse; and the same block code for prefill and KV-cached decoding.
 * A family supplies its embedding, its block (forward and backward) and its final norm.
 *
 * <pre>
 * x₀ = embed(ids, positions from..from+T)                 (N, C)
 * x_{l+1} = block_l(x_l)                                  (N, C)
 * logits = finalNorm(x_L) · W_headᵀ                       (N, V)   W_head (V, C): lm_head, or the tied embedding
 * loss   = mean over counted positions of −log softmax(logits)[target]   (target −1: not counted)
 * </pre>
 * Linear layers are reported to {@link LinearObserver}s by their HF module names.
 *
 * @param <W> the family's workspace
 */
public abstract class DecoderLm<W extends DecoderWorkspace> extends LayeredModel<W> implements CausalLm {
    private final ModelConfig config;

    protected DecoderLm(Backend backend, ParameterSet weights, Class<W> workspaceType) {
        super(backend, weights, workspaceType);
        this.config = weights.config();
    }

    // ---- what a family supplies ------------------------------------------------------------------------------

    /** Writes x₀ = ws.residual[0] (N, C) from ws.ids for positions from .. from + T of each sequence. */
    protected abstract void embed(W ws, int from);

    /**
     * Block l: ws.residual[l] → ws.residual[l + 1] for the chunk at positions from .. from + T. With a cache, reads
     * the keys/values of positions below {@code from} from it and writes the chunk's own there.
     */
    protected abstract void blockForward(W ws, int l, KvCache cache, int from);

    /** Writes ws.finalHidden = finalNorm(ws.residual[L]). */
    protected abstract void finalNormForward(W ws);

    /** Given ws.dFinalHidden: writes ws.dResidual = ∂/∂x_L (and accumulates the norm's parameter gradients). */
    protected abstract void finalNormBackward(W ws, ParameterSet grads);

    /** Given ws.dResidual = ∂/∂x_{l+1}: leaves ∂/∂x_l in ws.dResidual, accumulating block l's gradients. */
    protected abstract void blockBackward(W ws, int l, ParameterSet grads);

    /** Given ws.dResidual = ∂/∂x₀: accumulates the embedding gradients. */
    protected abstract void embedBackward(W ws, ParameterSet grads);

    /** HF name of the LM head's weight (V, C): "lm_head.weight", or the token embedding when tied. */
    protected abstract String headWeight();

    /** The family's workspace for (batch, time). */
    protected abstract W newWorkspace(int batch, int time);

    // ---- Model -------------------------------------------------------------------------------------------------

    @Override
    public W workspace(int batch, int time) {
        return newWorkspace(batch, time);
    }

    @Override
    public double forward(Workspace workspace, Batch batch) {
        W ws = cast(workspace);
        if (!(batch instanceof Batch.Tokens tokens)) {
            throw new IllegalArgumentException(config.modelType() + " is a language model: it takes token batches, got "
                    + batch.getClass().getSimpleName());
        }
        long n = (long) ws.batch * ws.time;
        if (tokens.ids().length != n) {
            throw new IllegalArgumentException("expected " + n + " ids and targets for batch " + ws.batch + " × "
                    + ws.time + ", got " + tokens.ids().length + " ids and " + tokens.targets().length + " targets");
        }
        loadIds(ws, tokens.ids());
        storeTargets(ws, tokens.targets());
        embed(ws, 0);
        return forwardFromEmbeddings(ws);
    }

    /**
     * The forward pass from x₀ = ws.residual[0] (already filled: by {@link #forward}, or by a caller that perturbs
     * the input embeddings). Returns the mean loss over scored positions.
     */
    @Override
    public double forwardFromEmbeddings(Workspace workspace) {
        W ws = cast(workspace);
        for (int l = 0; l < config.layers(); l++) {
            blockForward(ws, l, null, 0);
        }
        finalNormForward(ws);
        backend.gemm(ws.logits, ws.finalHidden, Transpose.NONE, weights.get(headWeight()), Transpose.TRANSPOSED,
                1.0, 0.0);
        return score(ws);
    }

    /** LABELLED: the positions with a target ≥ 0; ALL: every position. */
    @Override
    public int[] countedRows(Batch batch, TokenRows which) {
        if (!(batch instanceof Batch.Tokens tokens)) {
            throw new IllegalArgumentException(config.modelType() + " is a language model: it takes token batches");
        }
        int[] targets = tokens.targets();
        if (which == TokenRows.ALL) {
            return java.util.stream.IntStream.range(0, targets.length).toArray();
        }
        return java.util.stream.IntStream.range(0, targets.length).filter(i -> targets[i] >= 0).toArray();
    }

    @Override
    public double retarget(Workspace workspace, int[] targets) {
        W ws = cast(workspace);
        long n = (long) ws.batch * ws.time;
        if (targets.length != n) {
            throw new IllegalArgumentException("expected " + n + " targets, got " + targets.length);
        }
        storeTargets(ws, targets);
        return score(ws);
    }

    private double score(W ws) {
        backend.crossEntropy(ws.losses, ws.logSumExp, ws.logits, ws.targets);
        return ws.counted == 0 ? Double.NaN : backend.sum(ws.losses) / ws.counted;
    }

    @Override
    public void backward(Workspace workspace, ParameterSet grads, double scale) {
        W ws = cast(workspace);
        Tensor head = weights.get(headWeight());
        Tensor dLogits = ws.logits;   // overwritten in place
        backend.crossEntropyBackward(dLogits, ws.logits, ws.logSumExp, ws.targets, scale);
        // logits = h · W_headᵀ: dh = dLogits · W_head, dW_head += dLogitsᵀ · h
        backend.gemm(ws.dFinalHidden, dLogits, Transpose.NONE, head, Transpose.NONE, 1.0, 0.0);
        if (grads != null) {
            backend.gemm(grads.get(headWeight()), dLogits, Transpose.TRANSPOSED, ws.finalHidden, Transpose.NONE, 1.0,
                    1.0);
        }
        finalNormBackward(ws, grads);
        for (int l = config.layers() - 1; l >= 0; l--) {
            blockBackward(ws, l, grads);
        }
        if (grads != null) {
            embedBackward(ws, grads);
        }
    }

    // ---- CausalLm ---------------------------------------------------------------------------------------------

    @Override
    public void forward(Workspace workspace, KvCache cache, int from, int[] ids, Tensor lastLogits) {
        W ws = cast(workspace);
        if (from != 0 && ws.time != 1) {
            throw new IllegalArgumentException("a chunk of " + ws.time + " positions must start at position 0 "
                    + "(prefill); later positions are decoded one at a time, got from = " + from);
        }
        if (from < 0 || from + ws.time > cache.length() || cache.batch() != ws.batch) {
            throw new IllegalArgumentException("positions " + from + ".." + (from + ws.time) + " of " + ws.batch
                    + " sequences do not fit a cache of " + cache.batch() + " × " + cache.length());
        }
        if (ids.length != (long) ws.batch * ws.time) {
            throw new IllegalArgumentException("expected " + (ws.batch * ws.time) + " ids, got " + ids.length);
        }
        loadIds(ws, ids);
        embed(ws, from);
        for (int l = 0; l < config.layers(); l++) {
            blockForward(ws, l, cache, from);
        }
        finalNormForward(ws);
        // only each sequence's last position is scored: rows (b, T − 1), a (B, C) view with row stride T·C
        Tensor last = ws.finalHidden.reshape(ws.batch, ws.time, config.hiddenSize()).select(1, ws.time - 1);
        backend.gemm(lastLogits, last, Transpose.NONE, weights.get(headWeight()), Transpose.TRANSPOSED, 1.0, 0.0);
    }

    // ---- shared by the families' blocks -----------------------------------------------------------------------

    /** {@link LayeredModel#vectorGradient} with the workspace's discard buffer. */
    protected final Tensor vectorGradient(ParameterSet grads, W ws, String name) {
        return vectorGradient(grads, ws.discard, name);
    }

    private void loadIds(W ws, int[] ids) {
        int vocab = config.vocabSize();
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new IllegalArgumentException("token id " + ids[i] + " at position " + i + " is outside the "
                        + "vocabulary (0.." + (vocab - 1) + ")");
            }
        }
        backend.writeInts(ws.ids, ids);
    }

    /** Checks targets (−1 or a token id), uploads them and counts the scored positions. */
    private void storeTargets(W ws, int[] targets) {
        long counted = 0;
        for (int i = 0; i < targets.length; i++) {
            if (targets[i] < -1 || targets[i] >= config.vocabSize()) {
                throw new IllegalArgumentException("target " + targets[i] + " at position " + i
                        + " must be −1 (ignored) or a token id below " + config.vocabSize());
            }
            counted += targets[i] >= 0 ? 1 : 0;
        }
        backend.writeInts(ws.targets, targets);
        ws.counted = counted;
    }

    /** Allocates the chunk-independent decoding cache: keys/values (B, P, K) per block and one scores scratch. */
    protected final KvCache newCache(int batch, int length, int keyWidth, int heads) {
        if (batch < 1 || length < 1 || length > config.contextLength()) {
            throw new IllegalArgumentException("cache of " + batch + " × " + length + " positions must be positive with"
                    + " length <= the context length " + config.contextLength());
        }
        return new DecoderKvCache(backend, dtype(), config.layers(), batch, length, keyWidth, heads);
    }
}
