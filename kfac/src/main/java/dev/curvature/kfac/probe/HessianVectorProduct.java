package dev.curvature.kfac.probe;

import dev.curvature.transformer.model.Model;

import java.lang.foreign.Arena;
import java.util.List;

/**
 * Hessian-vector products of a {@link LossObjective} at θ* (the model's selected weights when this is built) by a
 * central difference of the engine's own gradients, in F64 (ALGORITHMS.md §3.5):
 * <pre>
 * H v ≈ (∇L(θ* + εv) − ∇L(θ* − εv)) / 2ε,   ε = c · (1 + ‖θ*‖) / ‖v‖
 * </pre>
 * with c the relative step ({@link #DEFAULT_RELATIVE_STEP}). The truncation error is O(ε²·‖∇⁴L‖), the rounding error
 * O(u·‖∇L‖/ε) with u = 2⁻⁵³, so in F64 c ≈ 1e-6…1e-5 balances them; the §3.5 value 1e-4 is for F32 runs. Each
 * product is two forward and two backward passes; the weights are set from a saved copy of θ* before each gradient
 * and restored after, bit for bit.
 */
public final class HessianVectorProduct implements SymmetricOperator, AutoCloseable {
    /** c in ε = c·(1 + ‖θ*‖)/‖v‖ for F64 gradients. */
    public static final double DEFAULT_RELATIVE_STEP = 1e-6;

    private final LossObjective objective;
    private final double relativeStep;
    private final Arena arena = Arena.ofShared();
    private final ParameterVector weights;
    private final ParameterVector center;
    private final ParameterVector minus;
    private final double centerNorm;
    private long products;

    public HessianVectorProduct(LossObjective objective, double relativeStep) {
        if (!(relativeStep > 0 && relativeStep < 1)) {
            throw new IllegalArgumentException("relative HVP step must be in (0, 1), got " + relativeStep);
        }
        this.objective = objective;
        this.relativeStep = relativeStep;
        Model model = objective.model();
        this.weights = ParameterVector.view(model.backend(), model.parameters(), objective.selection());
        this.center = ParameterVector.zerosLike(arena, weights);
        this.center.copyFrom(weights);
        this.minus = ParameterVector.zerosLike(arena, weights);
        this.centerNorm = center.norm();
    }

    @Override
    public long dimension() {
        return weights.size();
    }

    @Override
    public ParameterVector newVector(Arena owner) {
        return ParameterVector.zerosLike(owner, weights);
    }

    /** ε for a direction of norm {@code norm}. */
    public double step(double norm) {
        return relativeStep * (1 + centerNorm) / norm;
    }

    @Override
    public void apply(ParameterVector v, ParameterVector out) {
        double norm = v.norm();
        products++;
        if (norm == 0) {
            out.fill(0);
            return;
        }
        double eps = step(norm);
        try {
            weights.copyFrom(center);
            weights.axpy(eps, v);
            objective.gradient(out);
            weights.copyFrom(center);
            weights.axpy(-eps, v);
            objective.gradient(minus);
        } finally {
            weights.copyFrom(center);
        }
        out.axpy(-1, minus);
        out.scale(1 / (2 * eps));
    }

    @Override
    public long products() {
        return products;
    }

    /** θ*, the point the products are taken at (a copy, owned by this object). */
    public ParameterVector center() {
        return center;
    }

    /**
     * The projected matrix M = Uᵀ A U (D × D, row-major), symmetrized as (M + Mᵀ)/2 (a difference Hessian is
     * symmetric only up to its O(ε²) error); U's D columns are {@code basis}. D products.
     */
    public static double[] projected(SymmetricOperator a, List<ParameterVector> basis, Arena arena) {
        int d = basis.size();
        double[] m = new double[d * d];
        ParameterVector au = a.newVector(arena);
        for (int j = 0; j < d; j++) {
            a.apply(basis.get(j), au);
            for (int i = 0; i < d; i++) {
                m[i * d + j] = basis.get(i).dot(au);
            }
        }
        return symmetrized(m, d);
    }

    static double[] symmetrized(double[] m, int d) {
        double[] s = new double[d * d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < d; j++) {
                s[i * d + j] = 0.5 * (m[i * d + j] + m[j * d + i]);
            }
        }
        return s;
    }

    @Override
    public void close() {
        arena.close();
    }
}
