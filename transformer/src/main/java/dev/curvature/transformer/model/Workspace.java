package dev.curvature.transformer.model;

import dev.curvature.engine.Tensor;

/**
 * Every buffer one forward/backward pass of a (B, T) batch needs — what forward saves for backward and the scratch
 * backward writes — owned by one object and sized at construction, so a long run does not allocate.
 */
public interface Workspace extends AutoCloseable {
    int batch();

    int time();

    /** Logits (B·T, V) after forward (overwritten by their gradient in backward). */
    Tensor logits();

    /** Per-position cross-entropy (B·T) after forward; 0 at positions that are not scored. */
    Tensor losses();

    /** The targets (B·T) I32 of the last forward (−1: not scored). */
    Tensor targets();

    /** Scored positions (target ≥ 0) of the current batch: the rows K-FAC and the loss count. */
    long countedPositions();

    /**
     * The input embeddings x₀ (B·T, C) of the last forward; a caller may change them and run the model from there
     * ({@link Model#forwardFromEmbeddings}), e.g. to perturb the inputs.
     */
    Tensor inputEmbeddings();

    /** ∂loss/∂(input embeddings) (B·T, C) after backward: the residual gradient at the input of block 0. */
    Tensor inputEmbeddingGradient();

    /** Bytes held by all buffers. */
    long bytes();

    /** A short memory plan (total, largest buffers) for printing before long runs. */
    String memoryPlan();

    @Override
    void close();
}
