package dev.curvature.kfac;

/**
 * How close an estimate of a layer's corrected eigenvalues (the one-pass Λ̂, or K-FAC's λ_i μ_j) is to the exact
 * second-pass Λ, up to scale (per-window and per-token Λ differ by about the window length, and only the ranking
 * matters to the edit): both are normalized to unit sum first.
 *
 * @param relativeError ‖Λ̂/ΣΛ̂ − Λ/ΣΛ‖_F / ‖Λ/ΣΛ‖_F
 * @param topOverlap    |top_k(Λ̂) ∩ top_k(Λ)| / k with k = ⌊fraction · p·q⌋ pairs ({@link CorrectedMassSelection#top})
 * @param massCaptured  the fraction of ΣΛ that the top-k pairs of Λ̂ hold, against {@code bestMass} for Λ's own top k
 * @param bestMass      the fraction of ΣΛ that Λ's own top-k pairs hold
 * @param fraction      the kept fraction the overlap is taken at
 */
public record EkfacAgreement(double relativeError, double topOverlap, double massCaptured, double bestMass,
                             double fraction) {
    /** Compares {@code estimate} with {@code exact} (both row-major rows · columns, ≥ 0). */
    public static EkfacAgreement of(double[] exact, double[] estimate, int rows, int columns, double fraction) {
        if (exact.length != estimate.length || exact.length != (long) rows * columns) {
            throw new IllegalArgumentException("cannot compare " + estimate.length + " estimated with " + exact.length
                    + " exact corrected eigenvalues of a " + rows + "×" + columns + " layer");
        }
        double exactSum = 0;
        double estimateSum = 0;
        for (int k = 0; k < exact.length; k++) {
            exactSum += exact[k];
            estimateSum += estimate[k];
        }
        double diff = 0;
        double norm = 0;
        for (int k = 0; k < exact.length; k++) {
            double a = exact[k] / exactSum;
            double b = estimate[k] / estimateSum;
            diff += (a - b) * (a - b);
            norm += a * a;
        }
        long count = (long) Math.floor(fraction * exact.length);
        ScatteredComponents best = CorrectedMassSelection.top(exact, rows, columns, count);
        ScatteredComponents guess = CorrectedMassSelection.top(estimate, rows, columns, count);
        long common = 0;
        for (long at = guess.first(); at >= 0; at = guess.next(at)) {
            common += best.contains((int) (at / columns), (int) (at % columns)) ? 1 : 0;
        }
        return new EkfacAgreement(Math.sqrt(diff / norm), count == 0 ? 1 : (double) common / count,
                CorrectedMassSelection.massFraction(exact, guess), CorrectedMassSelection.massFraction(exact, best),
                fraction);
    }

    /** λ_i μ_j, row-major: K-FAC's eigenvalues in the same layout, for comparison. */
    public static double[] kfacProducts(FactorEigenbasis basis) {
        double[] lambda = basis.gradientEigenvalues();
        double[] mu = basis.activationEigenvalues();
        double[] out = new double[lambda.length * mu.length];
        for (int i = 0; i < lambda.length; i++) {
            for (int j = 0; j < mu.length; j++) {
                out[i * mu.length + j] = lambda[i] * mu[j];
            }
        }
        return out;
    }
}
