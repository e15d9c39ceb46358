package dev.curvature.kfac.probe;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The paper's subspace construction (ALGORITHMS.md §3.2 step 1), kept for comparison with {@link Lanczos}: for
 * i = 1..D, from a Gaussian start, iterate
 * <pre>
 * w = A v − Σ_{j&lt;i} λ_j (u_jᵀ v) u_j,   λ = vᵀ w,   v ← w / ‖w‖
 * </pre>
 * until |λ − λ_previous| ≤ tolerance · |λ| or the iteration limit (paper: 30, 1e-4); then u_i = v, λ_i = u_iᵀ A u_i
 * is taken from the residual product. It finds eigenvalues largest in <em>magnitude</em> — a negative one first
 * where it dominates — and its vectors are only as orthogonal as the deflation makes them. The vectors are
 * re-orthogonalized (Gram–Schmidt against the earlier u_j) after each vector's iteration, as §3.5 advises.
 */
public final class DeflatedPowerIteration {
    private DeflatedPowerIteration() {
    }

    public static RitzPairs topMagnitude(SymmetricOperator a, EigenOptions options, Arena arena) {
        int d = options.count();
        if (d > a.dimension()) {
            throw new IllegalArgumentException(d + " eigenpairs wanted of an operator of dimension " + a.dimension());
        }
        long productsBefore = a.products();
        SplittableRandom random = new SplittableRandom(options.seed());
        List<ParameterVector> vectors = new ArrayList<>();
        double[] values = new double[d];
        int iterations = 0;
        boolean converged = true;
        try (Arena scratch = Arena.ofShared()) {
            ParameterVector w = a.newVector(scratch);
            for (int i = 0; i < d; i++) {
                ParameterVector v = a.newVector(arena);
                v.fillGaussian(random, 1.0);
                v.scale(1 / v.norm());
                double lambda = Double.NaN;
                boolean done = false;
                for (int it = 0; it < options.maxIterations() && !done; it++) {
                    a.apply(v, w);
                    for (int j = 0; j < i; j++) {
                        w.axpy(-values[j] * vectors.get(j).dot(v), vectors.get(j));
                    }
                    double next = v.dot(w);
                    done = Math.abs(next - lambda) <= options.tolerance() * Math.abs(next);
                    lambda = next;
                    v.copyFrom(w);
                    v.scale(1 / w.norm());
                    iterations++;
                }
                converged &= done;
                for (ParameterVector u : vectors) {
                    v.axpy(-u.dot(v), u);
                }
                v.scale(1 / v.norm());
                a.apply(v, w);
                values[i] = v.dot(w);
                vectors.add(v);
            }
            double[] residuals = Lanczos.residuals(a, values, vectors, scratch);
            return new RitzPairs(values, vectors, residuals, iterations, a.products() - productsBefore, converged,
                    "power");
        }
    }
}
