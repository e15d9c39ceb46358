package dev.curvature.kfac.probe;

import dev.curvature.engine.Backend;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.Workspace;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Δ₂^(D) probe's estimators on the tiny random GPT-2 (N = 1,080, F64), k = 4 nested windows of 8 random tokens
 * plus one. References: the Gaussian moments by plain MC; a = L_{k+1} − L_k from a forward pass over all k + 1
 * windows; B from the exact (column-by-column) Hessians of both batches; direct MC, which needs no Taylor model.
 */
class LandscapeProbeTest {
    static final int TIME = 8;
    static final int K = 4;
    static Backend backend;
    static Model model;
    static int[][] windows;
    static LandscapeProbe.Result result;
    static final List<Double> SIGMAS = List.of(0.3, 0.1, 0.03, 0.01);

    @BeforeAll
    static void probe() {
        backend = SharedCpuBackend.get();
        model = TinyModels.gpt2(backend, 7);
        int[][] tokens = TinyModels.tokens(40, TIME, 16, 21);
        windows = LandscapeProbe.nestedWindows(tokens[0], TIME, K, 9);
        result = LandscapeProbe.run(model, ParameterSelection.parse(null, model.parameters()), TIME, windows[0],
                windows[1], LandscapeProbe.Options.of(4, SIGMAS, 4000, 13), LandscapeProbe.Progress.NONE);
        System.out.printf("probe k=%d: a = %.6g, eigenvalues %s, residuals %s%n", result.k(), result.quadratic().a(),
                java.util.Arrays.toString(result.eigenvalues()), java.util.Arrays.toString(result.residuals()));
        for (LandscapeProbe.SigmaResult s : result.sigmas()) {
            System.out.printf("σ=%g full %.6g ± %.2g, direct %.8g ± %.2g, quadratic MC %.8g ± %.2g, closed %.8g, "
                            + "ratio %.4f, |quad − direct|/direct %.3g%n", s.sigma(), s.fullSpace().value(),
                    s.fullSpace().standardError(), s.direct().value(), s.direct().standardError(),
                    s.quadraticMc().value(), s.quadraticMc().standardError(), s.closedForm().value(),
                    s.subspaceRatio(), s.quadraticError());
        }
    }

    @AfterAll
    static void close() {
        model.parameters().close();
    }

    @Test
    void closedFormEqualsTheGaussianMomentsByMonteCarlo() {
        // reference: plain MC of E[q(z)²], z ~ N(0, σ²I_5), 200,000 draws (seed 1); tolerance 4.5 MC standard errors
        SplittableRandom random = new SplittableRandom(1);
        int d = 5;
        double[] c = new double[d];
        double[] b = new double[d * d];
        for (int i = 0; i < d; i++) {
            c[i] = ParameterVector.gaussian(random);
            for (int j = 0; j <= i; j++) {
                b[i * d + j] = b[j * d + i] = ParameterVector.gaussian(random);
            }
        }
        QuadraticIncrement q = new QuadraticIncrement(0.3, c, b);
        double sigma = 0.7;
        int s = 200_000;
        double sum = 0;
        double sumSquares = 0;
        double[] z = new double[d];
        for (int n = 0; n < s; n++) {
            for (int i = 0; i < d; i++) {
                z[i] = sigma * ParameterVector.gaussian(random);
            }
            double v = q.at(z);
            sum += v * v;
            sumSquares += v * v * v * v;
        }
        double mean = sum / s;
        double se = Math.sqrt((sumSquares / s - mean * mean) / (s - 1));
        double closed = q.closedForm(sigma);
        System.out.printf("closed form %.6g, MC %.6g ± %.2g (%.2f σ)%n", closed, mean, se, (mean - closed) / se);
        assertTrue(Math.abs(mean - closed) <= 4.5 * se, "closed " + closed + " vs MC " + mean + " ± " + se);
    }

    @Test
    void closedFormInOneDimensionIsTheHandExpansion() {
        // reference: E[(a + cz + ½bz²)²] = a² + (ab + c²)σ² + ¾b²σ⁴ for z ~ N(0, σ²) (E z⁴ = 3σ⁴)
        QuadraticIncrement q = new QuadraticIncrement(0.5, new double[]{-2}, new double[]{3});
        double s2 = 0.04;
        assertEquals(0.25 + (1.5 + 4) * s2 + 0.75 * 9 * s2 * s2, q.closedForm(0.2), 1e-15);
    }

    @Test
    void probeClosedFormEqualsItsQuadraticMcWithinTheMcError() {
        // reference: the probe's own quadratic MC on S = 4000 draws; tolerance 4.5 of its standard errors
        for (LandscapeProbe.SigmaResult s : result.sigmas()) {
            double gap = Math.abs(s.quadraticMc().value() - s.closedForm().value());
            assertTrue(gap <= 4.5 * s.quadraticMc().standardError(), "σ = " + s.sigma() + ": closed "
                    + s.closedForm().value() + " vs quadratic MC " + s.quadraticMc().value() + " ± "
                    + s.quadraticMc().standardError());
        }
    }

    @Test
    void directMcApproachesTheQuadraticModelAsSigmaShrinks() {
        // reference: direct MC (true losses at w* + Uz) on the same draws as quadratic MC. Their gap is the Taylor
        // remainder, O(σ³) relative to the σ-dependent part: it must shrink monotonically over σ = 0.3 … 0.01, and
        // at σ = 0.01 direct MC must agree with the closed form within 4.5 of its standard errors + 1e-6 relative.
        double previous = Double.POSITIVE_INFINITY;
        for (LandscapeProbe.SigmaResult s : result.sigmas()) {
            assertTrue(s.quadraticError() < previous, "σ = " + s.sigma() + ": |quadratic − direct|/direct "
                    + s.quadraticError() + " did not shrink from " + previous);
            previous = s.quadraticError();
        }
        LandscapeProbe.SigmaResult smallest = result.sigmas().get(SIGMAS.size() - 1);
        double gap = Math.abs(smallest.direct().value() - smallest.closedForm().value());
        assertTrue(gap <= 4.5 * smallest.direct().standardError() + 1e-6 * smallest.closedForm().value(),
                "direct " + smallest.direct().value() + " ± " + smallest.direct().standardError() + " vs closed "
                        + smallest.closedForm().value());
    }

    @Test
    void coefficientsMatchTheExactHessiansInTheExactEigenspace() {
        // reference: exact H^(k) and ∇²ℓ_{k+1} (column by column, h = 1e-5), the exact top-4 eigenvectors V of H^(k),
        // exact gradients; B_ref = Vᵀ(∇²ℓ_{k+1} − H^(k))V/(k+1), c_ref = Vᵀ(∇ℓ_{k+1} − ∇L_k)/(k+1). U spans the same
        // subspace as V up to a rotation, so compare the rotation invariants the closed form uses: tr B, tr B² and
        // ‖c‖²; and the eigenvalues. Tolerance 1e-6 relative.
        int n = Math.toIntExact(model.parameters().count());
        int[] idsK = java.util.Arrays.copyOf(windows[0], K * TIME);
        int[] targetsK = java.util.Arrays.copyOf(windows[1], K * TIME);
        int[] idsNext = java.util.Arrays.copyOfRange(windows[0], K * TIME, (K + 1) * TIME);
        int[] targetsNext = java.util.Arrays.copyOfRange(windows[1], K * TIME, (K + 1) * TIME);
        double[] hK = ExactHessian.of(model, K, TIME, idsK, targetsK, 1e-5);
        double[] hNext = ExactHessian.of(model, 1, TIME, idsNext, targetsNext, 1e-5);
        double[] gK = ExactHessian.gradient(model, K, TIME, idsK, targetsK);
        double[] gNext = ExactHessian.gradient(model, 1, TIME, idsNext, targetsNext);
        double[] values;
        double[] vectors;
        try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofShared()) {
            var e = backend.eigh(a, dev.curvature.engine.Tensor.of(a, dev.curvature.engine.DType.F64, hK, n, n), false);
            values = e.values().toDoubleArray();
            vectors = e.vectors().toDoubleArray();
        }
        int d = 4;
        double[][] v = new double[d][n];
        for (int i = 0; i < d; i++) {
            for (int p = 0; p < n; p++) {
                v[i][p] = vectors[p * n + i];
            }
            assertEquals(values[i], result.eigenvalues()[i], 1e-6 * Math.abs(values[i]), "eigenvalue " + i);
        }
        double[] difference = new double[n * n];
        for (int i = 0; i < n * n; i++) {
            difference[i] = (hNext[i] - hK[i]) / (K + 1);
        }
        double trace = 0;
        double traceSquare = 0;
        double cc = 0;
        double[][] dv = new double[d][];
        for (int j = 0; j < d; j++) {
            dv[j] = ExactHessian.times(difference, v[j]);
        }
        for (int i = 0; i < d; i++) {
            double ci = 0;
            for (int p = 0; p < n; p++) {
                ci += v[i][p] * (gNext[p] - gK[p]) / (K + 1);
            }
            cc += ci * ci;
            for (int j = 0; j < d; j++) {
                double bij = 0;
                for (int p = 0; p < n; p++) {
                    bij += v[i][p] * dv[j][p];
                }
                traceSquare += bij * bij;
                trace += i == j ? bij : 0;
            }
        }
        QuadraticIncrement q = result.quadratic();
        double probeTrace = 0;
        double probeTraceSquare = 0;
        double probeCc = 0;
        for (int i = 0; i < d; i++) {
            probeTrace += q.b()[i * d + i];
            probeCc += q.c()[i] * q.c()[i];
            for (int j = 0; j < d; j++) {
                probeTraceSquare += q.b()[i * d + j] * q.b()[i * d + j];
            }
        }
        System.out.printf("tr B %.10g (exact %.10g), tr B² %.10g (exact %.10g), ‖c‖² %.10g (exact %.10g)%n",
                probeTrace, trace, probeTraceSquare, traceSquare, probeCc, cc);
        assertEquals(trace, probeTrace, 1e-6 * Math.abs(trace), "tr B");
        assertEquals(traceSquare, probeTraceSquare, 1e-6 * traceSquare, "tr B²");
        assertEquals(cc, probeCc, 1e-6 * cc, "‖c‖²");
    }

    @Test
    void incrementAtTheCenterIsTheDifferenceOfNestedMeans() {
        // reference: L_{k+1} by one forward pass over all k + 1 windows (mean over their tokens) minus L_k;
        // tolerance 1e-12 relative to a (the subtraction loses ~1e-15 · L / a)
        double lNext;
        double lK;
        try (Workspace all = model.workspace(K + 1, TIME); Workspace first = model.workspace(K, TIME)) {
            lNext = model.forward(all, new Batch.Tokens(windows[0], windows[1]));
            lK = model.forward(first, new Batch.Tokens(java.util.Arrays.copyOf(windows[0], K * TIME),
                    java.util.Arrays.copyOf(windows[1], K * TIME)));
        }
        assertEquals(lK, result.lossK(), 1e-14 * lK);
        assertEquals(lNext - lK, result.quadratic().a(), 1e-12 * Math.abs(result.quadratic().a()));
    }

    @Test
    void candidatesForSequenceKPlusOneAreAveragedAsSeparateProbes() {
        // reference: one probe per candidate window (M = 1 each, same seed, so the same subspace and draws); M = 2
        // must give their mean for every estimator, and the paired ratio error from their two values
        int[][] tokens = TinyModels.tokens(40, TIME, 16, 21);
        int[][] both = LandscapeProbe.nestedWindows(tokens[0], TIME, K, 2, 9);
        int kTokens = K * TIME;
        ParameterSelection all = ParameterSelection.parse(null, model.parameters());
        List<Double> sigmas = List.of(0.1, 0.01);
        LandscapeProbe.Options one = LandscapeProbe.Options.of(2, sigmas, 6, 4);
        LandscapeProbe.Result[] single = new LandscapeProbe.Result[2];
        for (int j = 0; j < 2; j++) {
            int[] ids = java.util.Arrays.copyOf(both[0], kTokens + TIME);
            int[] targets = java.util.Arrays.copyOf(both[1], kTokens + TIME);
            System.arraycopy(both[0], kTokens + j * TIME, ids, kTokens, TIME);
            System.arraycopy(both[1], kTokens + j * TIME, targets, kTokens, TIME);
            single[j] = LandscapeProbe.run(model, all, TIME, ids, targets, one, LandscapeProbe.Progress.NONE);
        }
        LandscapeProbe.Options two = new LandscapeProbe.Options(2, sigmas, 6, 4, LandscapeProbe.Solver.LANCZOS, 0, 0,
                HessianVectorProduct.DEFAULT_RELATIVE_STEP, 2);
        LandscapeProbe.Result pair = LandscapeProbe.run(model, all, TIME, both[0], both[1], two,
                LandscapeProbe.Progress.NONE);
        assertEquals(K, pair.k());
        assertEquals(2, pair.nextWindows());
        double a0 = single[0].quadratic().a();
        double a1 = single[1].quadratic().a();
        assertEquals((a0 * a0 + a1 * a1) / 2, pair.meanSquaredIncrement(), 1e-12 * pair.meanSquaredIncrement());
        for (int si = 0; si < sigmas.size(); si++) {
            LandscapeProbe.SigmaResult p = pair.sigmas().get(si);
            LandscapeProbe.SigmaResult s0 = single[0].sigmas().get(si);
            LandscapeProbe.SigmaResult s1 = single[1].sigmas().get(si);
            double closed = (s0.closedForm().value() + s1.closedForm().value()) / 2;
            assertEquals(closed, p.closedForm().value(), 1e-6 * closed);
            assertEquals(Math.abs(s0.closedForm().value() - s1.closedForm().value()) / 2,
                    p.closedForm().standardError(), 1e-6 * closed);
            double direct = (s0.direct().value() + s1.direct().value()) / 2;
            double full = (s0.fullSpace().value() + s1.fullSpace().value()) / 2;
            assertEquals(direct, p.direct().value(), 1e-6 * direct);
            assertEquals(full, p.fullSpace().value(), 1e-6 * full);
            double ratio = direct / full;
            double r0 = s0.direct().value() - ratio * s0.fullSpace().value();
            double r1 = s1.direct().value() - ratio * s1.fullSpace().value();
            assertEquals(Math.sqrt((r0 * r0 + r1 * r1) / 2) / full, p.ratioStandardError(), 1e-5 * ratio);
        }
    }
}
