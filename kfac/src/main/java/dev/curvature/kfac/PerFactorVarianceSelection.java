package dev.curvature.kfac;

import java.math.BigDecimal;
import java.util.Objects;

/**
 * The per-factor variance rule (the legacy {@code KFACTreatment.apply_kfac} of the reference code, which its
 * evaluation does not use): keep the top r_G eigenvectors of G and the top r_A of A, where r_A is the smallest r
 * with μ_0 + … + μ_{r−1} ≥ ρ_A·Σμ (likewise r_G with λ and ρ_G). The mask is the rectangle i &lt; r_G, j &lt; r_A,
 * i.e. W' = U_G[:, :r_G] U_G[:, :r_G]ᵀ W U_A[:, :r_A] U_A[:, :r_A]ᵀ.
 *
 * <p>Same conventions as {@link CurvatureMassSelection}: the target ρ·Σ is computed in double (sum in index
 * order) and compared exactly with the exact prefix sums; ρ = 1 keeps every eigenvector (so keeping every pair
 * returns W), a target of 0 keeps none, a target the full sum misses keeps all.
 *
 * @param rhoG      variance fraction for G's eigenvectors
 * @param rhoA      variance fraction for A's eigenvectors
 * @param gRank     r_G
 * @param aRank     r_A
 * @param kept      the rectangle of kept components
 * @param keptMass  (λ_0 + … + λ_{r_G−1})·(μ_0 + … + μ_{r_A−1}) in double
 * @param totalMass (Σλ)(Σμ) in double
 */
public record PerFactorVarianceSelection(double rhoG, double rhoA, int gRank, int aRank, ComponentMask kept,
                                         double keptMass, double totalMass) {

    public PerFactorVarianceSelection {
        Objects.requireNonNull(kept, "kept");
    }

    /**
     * @param lambda eigenvalues of G (p), descending, finite, ≥ 0
     * @param mu     eigenvalues of A (q), descending, finite, ≥ 0
     * @param rhoG   fraction of Σλ the kept G eigenvectors must carry, in [0, 1]
     * @param rhoA   fraction of Σμ the kept A eigenvectors must carry, in [0, 1]
     */
    public static PerFactorVarianceSelection select(double[] lambda, double[] mu, double rhoG, double rhoA) {
        DescendingSpectrum.require(DescendingSpectrum.LAMBDA, lambda);
        DescendingSpectrum.require(DescendingSpectrum.MU, mu);
        DescendingSpectrum.requireFraction("rhoG", rhoG);
        DescendingSpectrum.requireFraction("rhoA", rhoA);
        int gRank = varianceRank(lambda, rhoG);
        int aRank = varianceRank(mu, rhoA);
        double keptMass = partialSum(lambda, gRank) * partialSum(mu, aRank);
        double totalMass = DescendingSpectrum.sum(lambda) * DescendingSpectrum.sum(mu);
        return new PerFactorVarianceSelection(rhoG, rhoA, gRank, aRank,
                ComponentMask.rectangle(lambda.length, mu.length, gRank, aRank), keptMass, totalMass);
    }

    /** The smallest r with values[0] + … + values[r−1] ≥ ρ·Σ values (exact prefix sums, double target). */
    static int varianceRank(double[] values, double rho) {
        if (rho == 1) {
            return values.length;
        }
        double target = rho * DescendingSpectrum.sum(values);
        if (target <= 0) {
            return 0;
        }
        BigDecimal exactTarget = new BigDecimal(target);
        BigDecimal prefix = BigDecimal.ZERO;
        for (int r = 1; r <= values.length; r++) {
            prefix = prefix.add(new BigDecimal(values[r - 1]));
            if (prefix.compareTo(exactTarget) >= 0) {
                return r;
            }
        }
        return values.length;
    }

    private static double partialSum(double[] values, int count) {
        double s = 0;
        for (int i = 0; i < count; i++) {
            s += values[i];
        }
        return s;
    }
}
