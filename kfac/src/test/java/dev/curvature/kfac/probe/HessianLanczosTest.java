package dev.curvature.kfac.probe;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.engine.SymmetricEigen;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.model.Model;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.SplittableRandom;

import static dev.curvature.engine.NumericAssertions.relativeError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hessian-vector products and Lanczos against the exact Hessian of a tiny GPT-2 (1 block, d = 8, vocabulary 16,
 * N = 1,080 parameters, random weights, F64, batch 2 × 8). Reference: {@link ExactHessian}, all N columns by central
 * differences of gradients along unit vectors (h = 1e-5, truncation ≈ h² ≈ 1e-10 relative), symmetrized, and its
 * LAPACK dsyevd eigendecomposition. The HVP under test differences along arbitrary directions with the
 * scale-aware step, so the two share only the engine's gradient.
 */
class HessianLanczosTest {
    static final int BATCH = 2;
    static final int TIME = 8;
    static final int D = 4;
    static Backend backend;
    static Model model;
    static LossObjective objective;
    static HessianVectorProduct hvp;
    static double[] exact;
    static double[] exactValues;     // descending
    static double[] exactVectors;    // (N, N) column k ↔ exactValues[k]
    static int n;
    static Arena arena;

    @BeforeAll
    static void build() {
        backend = SharedCpuBackend.get();
        model = TinyModels.gpt2(backend, 7);
        int[][] tokens = TinyModels.tokens(BATCH, TIME, 16, 3);
        n = Math.toIntExact(model.parameters().count());
        exact = ExactHessian.of(model, BATCH, TIME, tokens[0], tokens[1], 1e-5);
        arena = Arena.ofShared();
        Tensor h = Tensor.of(arena, DType.F64, exact, n, n).named("exact Hessian");
        SymmetricEigen e = backend.eigh(arena, h, false);
        exactValues = e.values().toDoubleArray();
        exactVectors = e.vectors().toDoubleArray();
        objective = new LossObjective(model, ParameterSelection.parse(null, model.parameters()), BATCH, TIME,
                tokens[0], tokens[1]);
        hvp = new HessianVectorProduct(objective, HessianVectorProduct.DEFAULT_RELATIVE_STEP);
        System.out.printf("N = %d; exact top eigenvalues %.10g %.10g %.10g %.10g %.10g; bottom %.10g %.10g %.10g "
                        + "%.10g %.10g%n", n, exactValues[0], exactValues[1], exactValues[2], exactValues[3],
                exactValues[4], exactValues[n - 1], exactValues[n - 2], exactValues[n - 3], exactValues[n - 4],
                exactValues[n - 5]);
    }

    @AfterAll
    static void close() {
        hvp.close();
        objective.close();
        model.parameters().close();
        arena.close();
    }

    @Test
    void modelIsSmallEnoughAndItsHessianIndefinite() {
        assertEquals(1080, n, "parameter count of Gpt2Config.of(1, 2, 8, 16, 8)");
        assertTrue(exactValues[0] > 0 && exactValues[n - 1] < 0, "indefinite: λ_max " + exactValues[0]
                + ", λ_min " + exactValues[n - 1]);
    }

    @Test
    void hessianVectorProductMatchesTheExactHessianTimesV() {
        // reference: exact H (column differences) times v in double; tolerance 1e-7 relative (both differences
        // have O(1e-10) truncation; the bound leaves room for the rounding of the O(1e-6)-scaled step)
        SplittableRandom random = new SplittableRandom(11);
        try (Arena a = Arena.ofShared()) {
            for (int trial = 0; trial < 3; trial++) {
                ParameterVector v = hvp.newVector(a);
                v.fillGaussian(random, trial + 0.5);
                ParameterVector out = hvp.newVector(a);
                hvp.apply(v, out);
                double error = relativeError(ExactHessian.times(exact, v.toArray()), out.toArray());
                System.out.printf("HVP relative error vs exact H·v (trial %d): %.3g%n", trial, error);
                assertTrue(error <= 1e-7, "HVP relative error " + error);
            }
            assertArrayEqualsExactly(objective, model);
        }
    }

    /** The products restore the weights bit for bit: the loss at θ* after them is the loss before. */
    private static void assertArrayEqualsExactly(LossObjective objective, Model model) {
        double[] before = hvp.center().toArray();
        double[] after = ParameterVector.view(backend, model.parameters(), objective.selection()).toArray();
        for (int i = 0; i < before.length; i++) {
            assertEquals(Double.doubleToLongBits(before[i]), Double.doubleToLongBits(after[i]), "weight " + i);
        }
    }

    @Test
    void lanczosFindsTheTopAlgebraicEigenpairs() {
        // reference: exact H's top D eigenvalues and eigenvectors; tolerances rel 1e-6 (values), 1e-6 (largest
        // principal angle between the D-dimensional subspaces, sin θ_max = ‖(I − VVᵀ)U‖₂)
        try (Arena a = Arena.ofShared()) {
            RitzPairs pairs = Lanczos.topAlgebraic(hvp, new EigenOptions(D, 400, 1e-10, 5), a);
            report("Lanczos top", pairs, exactValues, 0);
            checkAgainstExact(pairs, 0, false);
        }
    }

    @Test
    void lanczosOnTheNegatedHessianFindsTheNegativeEigenvalues() {
        // reference: exact H's bottom D eigenvalues (all negative here); Lanczos on −H finds −λ_min first
        try (Arena a = Arena.ofShared()) {
            RitzPairs pairs = Lanczos.topAlgebraic(hvp.negated(), new EigenOptions(D, 400, 1e-10, 6), a);
            double[] bottom = new double[D];
            for (int i = 0; i < D; i++) {
                bottom[i] = -exactValues[n - 1 - i];
                assertTrue(exactValues[n - 1 - i] < 0, "the exact λ_" + (n - i) + " is negative");
            }
            report("Lanczos bottom (of −H)", pairs, bottom, 0);
            checkAgainstExact(pairs, n - D, true);
        }
    }

    @Test
    void powerIterationFindsTheLargestMagnitudeWhichIsNegativeHere() {
        // the §3.5 pitfall, shown: this Hessian's largest |λ| is λ_min ≈ −18.3, so the paper's deflated power
        // iteration (30 iterations, 1e-4) returns it first, where Lanczos (top algebraic) returns λ_max ≈ 8.37.
        // reference: exact λ_min; tolerance 1e-4 relative, the stopping rule's (measured: 2.1e-6). Its second value
        // approximates the next magnitude, λ_{N−1} ≈ −8.58, not converged in 30 iterations (residual ≈ 0.7): the
        // positive top of the spectrum is not found at all.
        try (Arena a = Arena.ofShared()) {
            RitzPairs pairs = DeflatedPowerIteration.topMagnitude(hvp, EigenOptions.power(2, 8), a);
            report("deflated power iteration (magnitude)", pairs, new double[]{exactValues[n - 1], exactValues[n - 2]}, 0);
            assertTrue(Math.abs(exactValues[n - 1]) > exactValues[0], "precondition: |λ_min| > λ_max");
            assertEquals(exactValues[n - 1], pairs.values()[0], 1e-4 * Math.abs(exactValues[n - 1]));
            assertTrue(pairs.values()[1] < 0, "second power-iteration value " + pairs.values()[1]);
        }
    }

    private static void report(String what, RitzPairs pairs, double[] reference, int from) {
        StringBuilder s = new StringBuilder(String.format("%s: %d steps, %d products, converged %b%n", what,
                pairs.iterations(), pairs.products(), pairs.converged()));
        for (int i = 0; i < pairs.count(); i++) {
            s.append(String.format("  λ_%d = %.12g (exact %.12g, rel error %.2e), residual %.2e%n", i + 1,
                    pairs.values()[i], reference[from + i],
                    Math.abs(pairs.values()[i] - reference[from + i]) / Math.abs(reference[from + i]),
                    pairs.residuals()[i]));
        }
        System.out.print(s);
    }

    /** Values rel ≤ 1e-6 against exact columns [from, from + D) (negated, reversed for the bottom); angle ≤ 1e-6. */
    private static void checkAgainstExact(RitzPairs pairs, int from, boolean bottom) {
        double[][] u = new double[D][];
        for (int i = 0; i < D; i++) {
            double expected = bottom ? -exactValues[n - 1 - i] : exactValues[i];
            double rel = Math.abs(pairs.values()[i] - expected) / Math.abs(expected);
            assertTrue(rel <= 1e-6, "eigenvalue " + (i + 1) + ": " + pairs.values()[i] + " vs exact " + expected);
            u[i] = pairs.vectors().get(i).toArray();
        }
        double angle = largestPrincipalAngle(u, from);
        System.out.printf("  largest principal angle to the exact subspace: %.3g rad%n", angle);
        assertTrue(angle <= 1e-6, "principal angle " + angle);
    }

    /** sin θ_max = ‖(I − VVᵀ)U‖₂ = √(λ_max(RᵀR)), R = U − V(VᵀU), V the exact columns [from, from + D). */
    private static double largestPrincipalAngle(double[][] u, int from) {
        double[][] r = new double[D][n];
        for (int i = 0; i < D; i++) {
            r[i] = u[i].clone();
            for (int k = from; k < from + D; k++) {
                double c = 0;
                for (int p = 0; p < n; p++) {
                    c += exactVectors[p * n + k] * u[i][p];
                }
                for (int p = 0; p < n; p++) {
                    r[i][p] -= c * exactVectors[p * n + k];
                }
            }
        }
        double[] gram = new double[D * D];
        for (int i = 0; i < D; i++) {
            for (int j = 0; j < D; j++) {
                double s = 0;
                for (int p = 0; p < n; p++) {
                    s += r[i][p] * r[j][p];
                }
                gram[i * D + j] = s;
            }
        }
        try (Arena a = Arena.ofShared()) {
            SymmetricEigen e = backend.eigh(a, Tensor.of(a, DType.F64, gram, D, D), false);
            return Math.asin(Math.min(1, Math.sqrt(Math.max(0, e.values().toDoubleArray()[0]))));
        }
    }

    @Test
    void projectedHessianIsSymmetricAndMatchesTheExactProjection() {
        // reference: UᵀHU with the exact H, for 3 random orthonormal-ish columns; tolerance 1e-7 relative
        SplittableRandom random = new SplittableRandom(17);
        try (Arena a = Arena.ofShared()) {
            List<ParameterVector> basis = new java.util.ArrayList<>();
            for (int i = 0; i < 3; i++) {
                ParameterVector v = hvp.newVector(a);
                v.fillGaussian(random, 1.0 / Math.sqrt(n));
                basis.add(v);
            }
            double[] m = HessianVectorProduct.projected(hvp, basis, a);
            double[] expected = new double[9];
            for (int i = 0; i < 3; i++) {
                double[] hu = ExactHessian.times(exact, basis.get(i).toArray());
                for (int j = 0; j < 3; j++) {
                    double[] uj = basis.get(j).toArray();
                    double s = 0;
                    for (int p = 0; p < n; p++) {
                        s += uj[p] * hu[p];
                    }
                    expected[j * 3 + i] = s;
                }
            }
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) {
                    assertEquals(m[i * 3 + j], m[j * 3 + i], 0.0, "symmetrized");
                }
            }
            double error = relativeError(expected, m);
            System.out.printf("projected Hessian UᵀHU relative error: %.3g%n", error);
            assertTrue(error <= 1e-7, "UᵀHU relative error " + error);
        }
    }
}
