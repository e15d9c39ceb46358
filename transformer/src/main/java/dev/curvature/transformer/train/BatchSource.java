package dev.curvature.transformer.train;

import dev.curvature.transformer.model.Batch;

/**
 * Training data as a pure function of the step: the batch of optimizer step {@code step} depends only on the
 * source's seed and the step, so a resumed run needs no data state. Token windows for language models
 * ({@link TokenWindows}), labelled images for classifiers ({@link ImageBatches}).
 */
public interface BatchSource {
    /** The {@code batch} samples of optimizer step {@code step}. */
    Batch batch(long step, int batch);

    /** Positions per sample the model's workspace is sized for: tokens per window, or tokens per image. */
    int time();

    /** Distinct samples one epoch reads (windows, or images): the indices {@link #samples} returns are below it. */
    int sampleCount();

    /** Which samples (0 … {@link #sampleCount()} − 1) the {@code batch} rows of step {@code step}'s batch are. */
    int[] samples(long step, int batch);
}
