package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.LinearObserver;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.Workspace;

/**
 * One forward and output-gradient backward of a batch with {@code observer} watching, under the label rule every
 * curvature pass shares (K-FAC factors, EK-FAC corrected eigenvalues): gold next tokens, or tokens drawn from the
 * model's softmax with the stream (seed, batch index) — so two passes over the same batches with the same seed draw
 * the same labels — and backward of the SUMMED cross-entropy (scale 1, no parameter gradient formed).
 */
final class LabelledBackward {
    private LabelledBackward() {
    }

    /**
     * Runs the pass; {@code sampled} is an I32 buffer of at least B·T elements (used only for sampled labels).
     * Returns the mean loss of the labels used.
     */
    static double run(Backend backend, Model model, Workspace act, Batch batch, KfacCollector.Labels labels, long seed,
                      long batchIndex, Tensor sampled, LinearObserver observer) {
        model.addObserver(observer);
        try {
            double loss = model.forward(act, batch);
            if (labels == KfacCollector.Labels.SAMPLED) {
                // a stream per batch, seeded by (seed, batch index): a resumed run samples what the uninterrupted
                // run would have, with no generator state to save; gold targets < 0 mark the rows not drawn
                Tensor drawn = sampled.slice(0, 0, act.targets().dim(0));
                backend.sampleSoftmaxRows(drawn, act.logits(), act.targets(), seed * 0x9E3779B97F4A7C15L + batchIndex);
                loss = model.retarget(act, backend.readInts(drawn));
            }
            model.backward(act, null, 1.0);     // output gradients only: no parameter gradient is formed
            return loss;
        } finally {
            model.removeObserver(observer);
        }
    }
}
