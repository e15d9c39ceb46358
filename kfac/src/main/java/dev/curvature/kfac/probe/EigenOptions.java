package dev.curvature.kfac.probe;

/**
 * What a top-D eigensolver is asked for.
 *
 * @param count         D, the eigenpairs wanted (top algebraic for Lanczos, top magnitude for power iteration)
 * @param maxIterations Lanczos steps (basis vectors kept: memory N·maxIterations) or power iterations per vector
 * @param tolerance     Lanczos: stop when every wanted Ritz pair's residual estimate |β_m s_m,i| ≤ tolerance ·
 *                      max|θ|; power iteration: when |λ_new − λ_old| ≤ tolerance · |λ_new|
 * @param seed          the start vectors' generator
 */
public record EigenOptions(int count, int maxIterations, double tolerance, long seed) {
    public EigenOptions {
        if (count < 1) {
            throw new IllegalArgumentException("eigenpairs wanted (--dim) must be >= 1, got " + count);
        }
        if (maxIterations < count) {
            throw new IllegalArgumentException("iterations (" + maxIterations + ") must be at least the eigenpairs "
                    + "wanted (" + count + ")");
        }
        if (!(tolerance > 0)) {
            throw new IllegalArgumentException("eigensolver tolerance must be > 0, got " + tolerance);
        }
    }

    /** Lanczos defaults for D eigenpairs of an N-dimensional operator: min(N, max(60, 10·D)) steps, 1e-8. */
    public static EigenOptions lanczos(int count, long dimension, long seed) {
        return new EigenOptions(count, (int) Math.min(dimension, Math.max(60, 10L * count)), 1e-8, seed);
    }

    /** The paper's power-iteration defaults: 30 iterations per vector, relative tolerance 1e-4. */
    public static EigenOptions power(int count, long seed) {
        return new EigenOptions(count, 30, 1e-4, seed);
    }
}
