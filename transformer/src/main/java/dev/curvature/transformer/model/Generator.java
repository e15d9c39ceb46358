package dev.curvature.transformer.model;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;

import java.lang.foreign.Arena;

/**
 * Batched greedy decoding of any {@link CausalLm} with a key/value cache: the prompt runs as one chunk (prefill),
 * then each new token costs one row per sequence through every block, attending over the cached keys and values —
 * the same block code as training. All sequences of a call share one prompt length; prompt + generated tokens must
 * fit in the generator's length (the context length unless a shorter one is given, which shrinks the cache).
 */
public final class Generator implements AutoCloseable {
    private final CausalLm model;
    private final Backend backend;
    private final int batch;
    private final int maxLength;
    private final KvCache cache;
    private final Workspace step;       // (B, 1) workspace of the decoding steps
    private final Arena arena = Arena.ofShared();
    private final Tensor logits;        // (B, V) logits of each sequence's newest position
    private final Tensor next;          // (B) I32 their argmax

    /** A generator whose cache holds the model's whole context. */
    public Generator(CausalLm model, int batch) {
        this(model, batch, model.config().contextLength());
    }

    /** A generator for prompt + new tokens of at most {@code maxLength} positions (cache sized to it). */
    public Generator(CausalLm model, int batch, int maxLength) {
        if (maxLength < 1 || maxLength > model.config().contextLength()) {
            throw new IllegalArgumentException("generator length " + maxLength + " must be in [1, "
                    + model.config().contextLength() + "]");
        }
        this.model = model;
        this.backend = model.backend();
        this.batch = batch;
        this.maxLength = maxLength;
        this.cache = model.cache(batch, maxLength);
        Workspace stepWorkspace = null;
        try {
            stepWorkspace = model.workspace(batch, 1);
            this.logits = backend.allocate(arena, model.dtype(), batch, model.config().vocabSize()).named("next logits");
            this.next = backend.allocate(arena, DType.I32, batch).named("next tokens");
        } catch (RuntimeException | Error e) {      // nothing half-built stays allocated
            if (stepWorkspace != null) {
                stepWorkspace.close();
            }
            cache.close();
            arena.close();
            throw e;
        }
        this.step = stepWorkspace;
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
                    + maxLength + " positions of this generator (the model has " + model.config().contextLength() + ")");
        }
        int[][] out = new int[batch][newTokens];
        if (newTokens == 0) {
            return out;
        }
        int[] ids = new int[batch * length];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(prompts[b], 0, ids, b * length, length);
        }
        try (Workspace prefill = model.workspace(batch, length)) {
            model.forward(prefill, cache, 0, ids, logits);
        }
        for (int n = 0; ; n++) {
            int[] tokens = argmax();
            for (int b = 0; b < batch; b++) {
                out[b][n] = tokens[b];
            }
            if (n == newTokens - 1) {
                return out;
            }
            model.forward(step, cache, length + n, tokens, logits);
        }
    }

    private int[] argmax() {
        backend.rowArgmax(next, logits);
        return backend.readInts(next);
    }

    @Override
    public void close() {
        step.close();
        cache.close();
        arena.close();
    }
}
