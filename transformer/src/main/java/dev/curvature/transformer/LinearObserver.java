package dev.curvature.transformer;

import dev.curvature.engine.Tensor;

/**
 * Watches linear layers {@code y = x Wᵀ + b}: sees each layer's input rows on forward and the gradient of the
 * loss with respect to its output rows on backward — what K-FAC needs (A = Σ x xᵀ, G = Σ g gᵀ). The tensors are
 * the model's own buffers (no copies), valid only during the call.
 */
public interface LinearObserver {
    /** Whether this observer wants layer {@code name} (e.g. "h.3.mlp.c_fc"); unwanted layers are not reported. */
    boolean observes(String name);

    /** Forward: x (N, d_in), the N = B·T input rows of layer {@code name}. */
    void onInput(String name, Tensor x);

    /**
     * Forward, after the layer: y (N, d_out), its output rows. An observer may modify them (perturbation analysis:
     * finite differences with respect to a layer output, ablations); the model continues from what it leaves.
     */
    default void onOutput(String name, Tensor y) {
    }

    /** Backward: dy (N, d_out), the gradient of the loss with respect to the output rows of layer {@code name}. */
    void onOutputGradient(String name, Tensor dy);
}
