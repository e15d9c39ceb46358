package dev.curvature.transformer.train;

/**
 * Hyper-parameters of a training run.
 *
 * @param batch           sequences per step
 * @param time            tokens per sequence (≤ n_positions)
 * @param stride          tokens between window starts (time: disjoint windows; 1: every offset)
 * @param steps           optimizer steps in total
 * @param learningRate    peak learning rate
 * @param minLearningRate learning rate at the end of the cosine decay
 * @param warmupSteps     linear warmup steps
 * @param weightDecay     AdamW decoupled weight decay (applied to matrices, not to biases or LayerNorm)
 * @param beta1           AdamW β₁
 * @param beta2           AdamW β₂
 * @param epsilon         AdamW ε
 * @param gradientClip    clip the global gradient norm to this (≤ 0: no clipping)
 * @param seed            data order and initialisation seed
 */
public record TrainingOptions(int batch, int time, int stride, long steps, double learningRate,
                              double minLearningRate, long warmupSteps, double weightDecay, double beta1, double beta2,
                              double epsilon, double gradientClip, long seed) {
    public TrainingOptions {
        if (batch < 1 || time < 2 || stride < 1 || steps < 1) {
            throw new IllegalArgumentException("batch, time, stride and steps must be positive (time >= 2)");
        }
    }

    public LearningRateSchedule schedule() {
        return new LearningRateSchedule(learningRate, minLearningRate, warmupSteps, steps);
    }
}
