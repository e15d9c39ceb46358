package dev.curvature.kfac.probe;

/**
 * The quadratic model of the loss increment on a D-dimensional subspace (ALGORITHMS.md §3.1), z ∈ ℝᴰ:
 * <pre>
 * L_{k+1}(w* + U z) − L_k(w* + U z) ≈ q(z) = a + cᵀz + ½ zᵀBz
 * a = L_{k+1}(w*) − L_k(w*),  c = Uᵀ(g^(k+1) − g^(k)),  B = Uᵀ(H^(k+1) − H^(k))U (symmetrized)
 * </pre>
 * and the Gaussian-moment closed form of E[q(z)²] for z ~ N(0, σ²I_D) (§3.2 step 4), from E[zᵀBz] = σ² tr B and
 * E[(zᵀBz)²] = σ⁴(2 tr B² + (tr B)²), odd moments vanishing:
 * <pre>
 * Δ_GM(σ) = a² + a σ² tr B + σ² ‖c‖² + (σ⁴/4)(2 tr B² + (tr B)²)
 * </pre>
 *
 * @param a the increment at w*
 * @param c (D) its gradient in the subspace
 * @param b (D, D) row-major, symmetric: its Hessian in the subspace
 */
public record QuadraticIncrement(double a, double[] c, double[] b) {
    public QuadraticIncrement {
        c = c.clone();
        b = b.clone();
        if (b.length != c.length * c.length) {
            throw new IllegalArgumentException("B has " + b.length + " entries for D = " + c.length);
        }
    }

    public int dimension() {
        return c.length;
    }

    /** q(z). */
    public double at(double[] z) {
        int d = c.length;
        double linear = 0;
        double quadratic = 0;
        for (int i = 0; i < d; i++) {
            linear += c[i] * z[i];
            double row = 0;
            for (int j = 0; j < d; j++) {
                row += b[i * d + j] * z[j];
            }
            quadratic += z[i] * row;
        }
        return a + linear + 0.5 * quadratic;
    }

    /** Δ_GM(σ), computing tr B, tr B² = ‖B‖_F² and ‖c‖² from a, c, B (O(D²)). */
    public double closedForm(double sigma) {
        int d = c.length;
        double trace = 0;
        double traceSquare = 0;
        double cc = 0;
        for (int i = 0; i < d; i++) {
            trace += b[i * d + i];
            cc += c[i] * c[i];
            for (int j = 0; j < d; j++) {
                traceSquare += b[i * d + j] * b[i * d + j];
            }
        }
        double s2 = sigma * sigma;
        return a * a + a * s2 * trace + s2 * cc + s2 * s2 / 4 * (2 * traceSquare + trace * trace);
    }
}
