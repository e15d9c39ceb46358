package dev.curvature.kfac.probe;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The top-D algebraic eigenpairs of a symmetric operator A by Lanczos with full reorthogonalization:
 * <pre>
 * q₀ = r/‖r‖ (r Gaussian from the seed)
 * w = A q_j − α_j q_j − β_{j−1} q_{j−1},  α_j = q_jᵀ A q_j;  then twice w −= Σ_{i≤j} (q_iᵀw) q_i;  β_j = ‖w‖
 * T_m = tridiag(β, α, β) (m × m) = S Θ Sᵀ;  Ritz pairs (θ_i, u_i = Q_m s_i), residual ‖A u_i − θ_i u_i‖ = β_{m−1}|s_{m−1,i}|
 * </pre>
 * T is eigendecomposed (LAPACK dsyevd) after every step from D on; the run stops when the D largest θ_i all have
 * residual estimates ≤ tolerance · max|θ| (or at the iteration limit, or when β vanishes: an invariant subspace).
 * The residuals reported are measured, one more product per pair. Selecting by algebraic value, not magnitude,
 * is what a non-convex loss needs (ALGORITHMS.md §3.5); A's bottom eigenpairs are those of {@link
 * SymmetricOperator#negated()}.
 */
public final class Lanczos {
    private Lanczos() {
    }

    /** The top {@code options.count()} algebraic eigenpairs of {@code a}; vectors are allocated in {@code arena}. */
    public static RitzPairs topAlgebraic(SymmetricOperator a, EigenOptions options, Arena arena) {
        int d = options.count();
        long n = a.dimension();
        if (d > n) {
            throw new IllegalArgumentException(d + " eigenpairs wanted of an operator of dimension " + n);
        }
        int limit = (int) Math.min(options.maxIterations(), n);
        long productsBefore = a.products();
        List<ParameterVector> q = new ArrayList<>();
        double[] alpha = new double[limit];
        double[] beta = new double[limit];
        try (Arena scratch = Arena.ofShared()) {
            ParameterVector w = a.newVector(scratch);
            ParameterVector first = a.newVector(scratch);
            first.fillGaussian(new SplittableRandom(options.seed()), 1.0);
            first.scale(1 / first.norm());
            q.add(first);
            SmallEigen ritz = null;
            boolean converged = false;
            int m = 0;
            while (m < limit) {
                int j = m;
                ParameterVector qj = q.get(j);
                a.apply(qj, w);
                alpha[j] = qj.dot(w);
                w.axpy(-alpha[j], qj);
                if (j > 0) {
                    w.axpy(-beta[j - 1], q.get(j - 1));
                }
                for (int pass = 0; pass < 2; pass++) {
                    for (int i = 0; i <= j; i++) {
                        double h = q.get(i).dot(w);
                        w.axpy(-h, q.get(i));
                        if (i == j) {
                            alpha[j] += h;
                        }
                    }
                }
                beta[j] = w.norm();
                m = j + 1;
                if (m >= d) {
                    ritz = SmallEigen.of(qj.backend(), tridiagonal(alpha, beta, m), m, "lanczos.T");
                    double scale = Math.max(Math.abs(ritz.values()[0]), Math.abs(ritz.values()[m - 1]));
                    double worst = 0;
                    for (int i = 0; i < d; i++) {
                        worst = Math.max(worst, Math.abs(beta[j] * ritz.vector(m - 1, i)));
                    }
                    if (worst <= options.tolerance() * scale) {
                        converged = true;
                        break;
                    }
                    if (beta[j] <= 1e-14 * scale) {
                        converged = true;     // an invariant subspace: the Ritz pairs are exact
                        break;
                    }
                }
                if (m < limit) {
                    ParameterVector next = a.newVector(scratch);
                    next.copyFrom(w);
                    next.scale(1 / beta[j]);
                    q.add(next);
                }
            }
            if (ritz == null) {
                throw new IllegalStateException("Lanczos stopped after " + m + " steps, fewer than the " + d
                        + " eigenpairs wanted");
            }
            double[] values = new double[d];
            List<ParameterVector> vectors = new ArrayList<>();
            for (int i = 0; i < d; i++) {
                values[i] = ritz.values()[i];
                ParameterVector u = a.newVector(arena);
                for (int k = 0; k < m; k++) {
                    u.axpy(ritz.vector(k, i), q.get(k));
                }
                vectors.add(u);
            }
            double[] residuals = residuals(a, values, vectors, scratch);
            return new RitzPairs(values, vectors, residuals, m, a.products() - productsBefore, converged, "lanczos");
        }
    }

    /** ‖A u_i − λ_i u_i‖ for each pair (one product each). */
    static double[] residuals(SymmetricOperator a, double[] values, List<ParameterVector> vectors, Arena scratch) {
        ParameterVector au = a.newVector(scratch);
        double[] r = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            a.apply(vectors.get(i), au);
            au.axpy(-values[i], vectors.get(i));
            r[i] = au.norm();
        }
        return r;
    }

    private static double[] tridiagonal(double[] alpha, double[] beta, int m) {
        double[] t = new double[m * m];
        for (int i = 0; i < m; i++) {
            t[i * m + i] = alpha[i];
            if (i + 1 < m) {
                t[i * m + i + 1] = beta[i];
                t[(i + 1) * m + i] = beta[i];
            }
        }
        return t;
    }
}
