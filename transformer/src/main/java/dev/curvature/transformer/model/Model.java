package dev.curvature.transformer.model;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.LinearObserver;

import java.util.List;

/**
 * All that K-FAC, evaluation, training and generation see of a model, whatever its family: its config and
 * parameters, its linear layers, a workspace, forward on a batch, backward with a scale, and observers of the
 * linear layers. The counted rows (which positions enter the loss and the factors) are the batch's targets ≥ 0.
 */
public interface Model {
    ModelConfig config();

    /** The weights, by HF name in the maths layout. */
    ParameterSet parameters();

    Backend backend();

    /** Compute dtype (F32 or F64). */
    default DType dtype() {
        return parameters().dtype();
    }

    /** The linear layers observers can watch, in forward order. */
    default List<LinearLayer> linearLayers() {
        return config().linearLayers();
    }

    /** Buffers for batches of {@code batch} sequences of {@code time} positions. */
    Workspace workspace(int batch, int time);

    /** Gradient buffers shaped like the weights (zero). */
    default ParameterSet allocateGradients() {
        return parameters().zerosLike(backend());
    }

    /**
     * Runs the model on {@code batch} (its shape must be the workspace's) and returns the mean loss over scored
     * positions (NaN when none is scored). Everything backward needs stays in {@code ws}.
     */
    double forward(Workspace ws, Batch batch);

    /**
     * The forward pass from {@link Workspace#inputEmbeddings()} as the last {@link #forward} left them, or as the
     * caller changed them (input-space curvature perturbs them); targets as the last forward stored them. Returns the
     * mean loss over scored positions.
     */
    double forwardFromEmbeddings(Workspace ws);

    /**
     * Replaces the targets of the last forward (e.g. by labels sampled from the model's own softmax) and re-scores
     * the kept logits without re-running the model. Returns the new mean loss.
     */
    double retarget(Workspace ws, int[] targets);

    /**
     * Backward of {@code scale · Σ_i loss_i} over scored positions i (scale = 1/count: the mean loss; 1: the summed
     * loss, whose per-position output gradients K-FAC accumulates). Accumulates every parameter gradient into
     * {@code grads} and leaves ∂/∂(input embeddings) in {@link Workspace#inputEmbeddingGradient()}. With
     * {@code grads} null no parameter gradient is formed (no weight-gradient products, no gradient memory): what
     * observers see and ∂/∂(input embeddings) are the same.
     */
    void backward(Workspace ws, ParameterSet grads, double scale);

    /** Backward of the mean loss over scored positions. */
    default void backward(Workspace ws, ParameterSet grads) {
        long counted = ws.countedPositions();
        backward(ws, grads, counted == 0 ? 0.0 : 1.0 / counted);
    }

    /**
     * The indices of the rows (of the B·T rows the linear layers see for {@code batch}) that {@code which} counts,
     * ascending: what K-FAC accumulates its factors over.
     */
    int[] countedRows(Batch batch, TokenRows which);

    void addObserver(LinearObserver observer);

    void removeObserver(LinearObserver observer);
}
