package dev.curvature.kfac;

import dev.curvature.engine.CovarianceAccumulator;
import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.Random;

import static dev.curvature.engine.NumericAssertions.randomValues;
import static dev.curvature.engine.NumericAssertions.relativeError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The edit W' = U_G (C ⊙ M) U_Aᵀ against the component sum Σ_S C_ij u_i v_jᵀ written out with naive loops in double
 * (C_ij = u_iᵀ W v_j from the same eigenvectors), plus its identities: ρ = 1 gives W, ρ = 0 gives 0, and keep + ablate
 * at the same ρ add up to W.
 */
class CurvatureEditTest {
    static final CpuBackend backend = SharedCpuBackend.get();

    /** Factors from random activations/gradients with unequal scales, so the spectra are spread out. */
    static KroneckerFactors randomFactors(Arena arena, int dOut, int dIn, long seed) {
        Random random = new Random(seed);
        var a = new CovarianceAccumulator(backend, dIn, CovariancePrecision.F64_EXACT, "layer.A");
        var g = new CovarianceAccumulator(backend, dOut, CovariancePrecision.F64_EXACT, "layer.G");
        int n = 200;
        double[] x = randomValues(random, n * dIn);
        double[] y = randomValues(random, n * dOut);
        for (int r = 0; r < n; r++) {
            for (int j = 0; j < dIn; j++) {
                x[r * dIn + j] *= Math.pow(0.7, j);
            }
            for (int i = 0; i < dOut; i++) {
                y[r * dOut + i] *= Math.pow(0.8, i);
            }
        }
        a.accumulate(Tensor.of(arena, DType.F64, x, n, dIn), 1.0);
        g.accumulate(Tensor.of(arena, DType.F64, y, n, dOut), 1.0);
        return new KroneckerFactors("layer", a, g);
    }

    static Tensor edit(Arena arena, Tensor w, FactorEigenbasis basis, ComponentMask mask) {
        Tensor out = Tensor.allocate(arena, DType.F64, w.dim(0), w.dim(1));
        CurvatureEdit.apply(backend, out, w, basis, mask);
        return out;
    }

    /** Σ_{(i,j) kept} C_ij u_i v_jᵀ with C_ij = u_iᵀ W v_j, by naive loops in double (row-major d_out × d_in). */
    static double[] naiveComponentSum(FactorEigenbasis basis, Tensor w, ScatteredComponents.PairPredicate kept) {
        int dOut = (int) w.dim(0);
        int dIn = (int) w.dim(1);
        double[] u = basis.gradientEigenvectors().toDoubleArray();
        double[] v = basis.activationEigenvectors().toDoubleArray();
        double[] wv = w.toDoubleArray();
        double[] sum = new double[dOut * dIn];
        for (int i = 0; i < dOut; i++) {
            for (int j = 0; j < dIn; j++) {
                if (!kept.test(i, j)) {
                    continue;
                }
                double c = 0;   // C_ij = u_iᵀ W v_j
                for (int r = 0; r < dOut; r++) {
                    for (int s = 0; s < dIn; s++) {
                        c += u[r * dOut + i] * wv[r * dIn + s] * v[s * dIn + j];
                    }
                }
                for (int r = 0; r < dOut; r++) {
                    for (int s = 0; s < dIn; s++) {
                        sum[r * dIn + s] += c * u[r * dOut + i] * v[s * dIn + j];
                    }
                }
            }
        }
        return sum;
    }

    @Test
    void editEqualsTheNaiveSumOfKeptComponents() {
        int dOut = 12, dIn = 9;
        try (Arena arena = Arena.ofShared()) {
            KroneckerFactors factors = randomFactors(arena, dOut, dIn, 1);
            try (FactorEigenbasis basis = FactorEigenbasis.of(backend, factors)) {
                Tensor w = Tensor.of(arena, DType.F64, randomValues(new Random(2), dOut * dIn), dOut, dIn);
                CurvatureMassSelection selection = CurvatureMassSelection.keep(basis.gradientEigenvalues(),
                        basis.activationEigenvalues(), 0.7);
                Tensor out = Tensor.allocate(arena, DType.F64, dOut, dIn);
                CurvatureEdit.LayerReport report = CurvatureEdit.apply(backend, out, w, basis, selection.kept());

                double[] wv = w.toDoubleArray();
                double[] expected = naiveComponentSum(basis, w, selection.kept()::contains);
                assertTrue(relativeError(expected, out.toDoubleArray()) <= 1e-12, "vs naive component sum");
                assertEquals(selection.kept().pairCount(), report.pairsKept());
                assertTrue(report.massKept() >= 0.7, "kept mass " + report.massKept());
                double[] lambda = basis.gradientEigenvalues();
                double[] mu = basis.activationEigenvalues();
                double kept = 0;
                double lambdaSum = 0;
                double muSum = 0;
                for (int i = 0; i < dOut; i++) {
                    lambdaSum += lambda[i];
                    for (int j = 0; j < dIn; j++) {
                        kept += selection.kept().contains(i, j) ? lambda[i] * mu[j] : 0;
                    }
                }
                for (double m : mu) {
                    muSum += m;
                }
                assertEquals(kept / (lambdaSum * muSum), report.massKept(), 1e-12, "kept mass vs naive Σ λ_i μ_j");
                double naiveChange = relativeError(wv, expected);
                assertEquals(naiveChange, report.relativeChange(), 1e-12);
            }
        }
    }

    @Test
    void rhoOneGivesWRhoZeroGivesZeroAndKeepPlusAblateGivesW() {
        int dOut = 40, dIn = 24;
        try (Arena arena = Arena.ofShared()) {
            KroneckerFactors factors = randomFactors(arena, dOut, dIn, 3);
            try (FactorEigenbasis basis = FactorEigenbasis.of(backend, factors)) {
                double[] lambda = basis.gradientEigenvalues();
                double[] mu = basis.activationEigenvalues();
                Tensor w = Tensor.of(arena, DType.F64, randomValues(new Random(4), dOut * dIn), dOut, dIn);
                double[] wv = w.toDoubleArray();

                Tensor all = edit(arena, w, basis, CurvatureMassSelection.keep(lambda, mu, 1.0).kept());
                assertTrue(relativeError(wv, all.toDoubleArray()) <= 1e-12, "rho = 1 returns W");

                Tensor none = edit(arena, w, basis, CurvatureMassSelection.keep(lambda, mu, 0.0).kept());
                assertEquals(0.0, relativeError(new double[dOut * dIn], none.toDoubleArray()), "rho = 0 returns 0");

                for (double rho : new double[]{0.3, 0.6, 0.9, 0.99}) {
                    double[] kept = edit(arena, w, basis, CurvatureMassSelection.keep(lambda, mu, rho).kept())
                            .toDoubleArray();
                    double[] ablated = edit(arena, w, basis, CurvatureMassSelection.ablate(lambda, mu, rho).kept())
                            .toDoubleArray();
                    double[] sum = new double[kept.length];
                    for (int k = 0; k < sum.length; k++) {
                        sum[k] = kept[k] + ablated[k];
                    }
                    assertTrue(relativeError(wv, sum) <= 1e-12, "keep + ablate at rho " + rho);
                }
            }
        }
    }
}
