package dev.curvature.kfac.score;

import java.util.SplittableRandom;

/**
 * Per-sample input-loss curvature (Garg, Ravikumar, Roy 2024; ALGORITHMS.md §2): for sample b with input x_b (D) and
 * its own loss ℓ_b, H_b = ∇²ₓ ℓ_b and, over n Rademacher vectors v_i ∈ {±1}^D,
 * <pre>
 * Δ_i            = ∇ₓℓ_b(x_b + h·v_i) − ∇ₓℓ_b(x_b)               (D)   = h·H_b v_i + O(h²)
 * squared  (Curv) = (1/n) Σ_i ‖Δ_i‖²                                    → h²·tr(H_b²)   (E‖Hv‖² = tr(H²))
 * norm            = (1/n) Σ_i ‖Δ_i‖                                      the official code's unsquared variant
 * trace           = (1/n) Σ_i v_iᵀΔ_i / h                               → tr(H_b)        (Hutchinson)
 * </pre>
 * The squared score is the paper's, unscaled: divide by h² for an estimate of tr(H²), whose Monte-Carlo variance per
 * draw is 2(‖H²‖_F² − Σ_j (H²)_jj²). The draws are seeded by (seed, sample index, draw), so a sample's score does not
 * depend on the batch it is scored in. One score costs n + 1 forward/backward passes of the batch.
 */
public final class InputCurvature {
    private InputCurvature() {
    }

    /**
     * @param draws Rademacher vectors n per sample (paper: 10)
     * @param step  finite-difference step h (paper: 1e-3)
     * @param seed  seed of the draws
     */
    public record Options(int draws, double step, long seed) {
        public static final Options PAPER = new Options(10, 1e-3, 0);

        public Options {
            if (draws < 1) {
                throw new IllegalArgumentException("--draws must be at least 1, got " + draws);
            }
            if (!(step > 0 && Double.isFinite(step))) {
                throw new IllegalArgumentException("--step h must be a positive finite number, got " + step);
            }
        }
    }

    /**
     * Scores of one batch, per sample (B each).
     *
     * @param squared (1/n) Σ ‖Δ_i‖² ≈ h²·tr(H²)
     * @param norm    (1/n) Σ ‖Δ_i‖
     * @param trace   (1/n) Σ v_iᵀΔ_i / h ≈ tr(H)
     * @param loss    ℓ_b at the unperturbed input
     */
    public record Scores(double[] squared, double[] norm, double[] trace, double[] loss) {
    }

    /**
     * Scores every sample of {@code input}; sample b of the batch draws its vectors as sample
     * {@code firstIndex + b} (its index in the data set).
     */
    public static Scores score(InputGradients input, long firstIndex, Options options) {
        int batch = input.batch();
        int d = input.dimension();
        double[] x = input.inputs();
        double[] base = input.gradient(x);
        double[] loss = input.losses().clone();
        double[] squared = new double[batch];
        double[] norm = new double[batch];
        double[] trace = new double[batch];
        double[] moved = new double[x.length];
        double[][] v = new double[batch][];
        double h = options.step();
        for (int i = 0; i < options.draws(); i++) {
            for (int b = 0; b < batch; b++) {
                v[b] = rademacher(options.seed(), firstIndex + b, i, d);
                for (int j = 0; j < d; j++) {
                    moved[b * d + j] = x[b * d + j] + h * v[b][j];
                }
            }
            double[] g = input.gradient(moved);
            for (int b = 0; b < batch; b++) {
                double sq = 0;
                double dot = 0;
                for (int j = 0; j < d; j++) {
                    double delta = g[b * d + j] - base[b * d + j];
                    sq += delta * delta;
                    dot += v[b][j] * delta;
                }
                squared[b] += sq / options.draws();
                norm[b] += Math.sqrt(sq) / options.draws();
                trace[b] += dot / h / options.draws();
            }
        }
        return new Scores(squared, norm, trace, loss);
    }

    /**
     * Rademacher vector (D entries ±1) number {@code draw} of sample {@code sample}: a SplittableRandom seeded by
     * the murmur3 finalizer of (seed, sample, draw), so distinct (sample, draw) pairs get unrelated streams.
     */
    public static double[] rademacher(long seed, long sample, int draw, int dimension) {
        long key = mix(mix(mix(seed) ^ sample) ^ (draw + 0x9E3779B97F4A7C15L));
        SplittableRandom random = new SplittableRandom(key);
        double[] v = new double[dimension];
        for (int j = 0; j < dimension; j++) {
            v[j] = random.nextBoolean() ? 1.0 : -1.0;
        }
        return v;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
        z = (z ^ (z >>> 33)) * 0xc4ceb9fe1a85ec53L;
        return z ^ (z >>> 33);
    }
}
