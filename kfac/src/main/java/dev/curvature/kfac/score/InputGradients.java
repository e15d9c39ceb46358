package dev.curvature.kfac.score;

/**
 * The input gradient of every sample's own loss, for one batch of B samples of D input values each, at the batch's
 * inputs x (B·D, sample-major) or at inputs the caller moved. A sample's loss is the sum of its scored losses (one
 * label for an image; a window's scored next-token losses for a language model), never a batch mean: backward runs
 * with scale 1, and since samples do not interact in the model, row b of the gradient of the summed loss is
 * ∇_{x_b} ℓ_b.
 */
public interface InputGradients {
    /** Samples in the batch, B. */
    int batch();

    /** Input values per sample, D. */
    int dimension();

    /** The batch's own inputs x (B·D); a fresh copy. */
    double[] inputs();

    /**
     * Runs the model at inputs {@code x} (B·D) and returns ∇ₓ ℓ_b (B·D, row b for sample b), leaving the per-sample
     * losses ℓ_b (B) at x in {@link #losses()}.
     */
    double[] gradient(double[] x);

    /** ℓ_b (B) at the inputs of the last {@link #gradient} call. */
    double[] losses();

    /** Wall time in forward passes (with the loss read-back) so far. */
    long forwardNanos();

    /** Wall time in backward passes (with the input-gradient read-back) so far. */
    long backwardNanos();
}
