package dev.curvature.kfac.probe;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link SlopeFit} against the normal equations of y = β₀ + β₁x solved by a 2 × 2 inverse, Cov(β) = s²(XᵀX)⁻¹ with
 * s² = RSS/(n − 2), on synthetic log Δ = log 5 − 2 log k + noise; and the fit through per-k means against group means
 * taken by hand.
 */
class SlopeFitTest {

    /** {slope, se, intercept} of OLS of y on x from (XᵀX)⁻¹Xᵀy. */
    private static double[] normalEquations(double[] x, double[] y) {
        double n = x.length;
        double sx = 0;
        double sxx = 0;
        double sy = 0;
        double sxy = 0;
        for (int i = 0; i < x.length; i++) {
            sx += x[i];
            sxx += x[i] * x[i];
            sy += y[i];
            sxy += x[i] * y[i];
        }
        double det = n * sxx - sx * sx;
        double intercept = (sxx * sy - sx * sxy) / det;
        double slope = (n * sxy - sx * sy) / det;
        double rss = 0;
        for (int i = 0; i < x.length; i++) {
            double r = y[i] - intercept - slope * x[i];
            rss += r * r;
        }
        double s2 = rss / (n - 2);
        return new double[]{slope, Math.sqrt(s2 * n / det), intercept};
    }

    @Test
    void slopeAndStandardErrorMatchTheNormalEquations() {
        SplittableRandom random = new SplittableRandom(3);
        int[] ks = {4, 8, 16, 32, 64, 128, 256, 512};
        int seeds = 6;
        double[] k = new double[ks.length * seeds];
        double[] delta = new double[k.length];
        double[] x = new double[k.length];
        double[] y = new double[k.length];
        for (int i = 0; i < k.length; i++) {
            k[i] = ks[i / seeds];
            delta[i] = 5 * Math.pow(k[i], -2) * Math.exp(0.8 * ParameterVector.gaussian(random));
            x[i] = Math.log(k[i]);
            y[i] = Math.log(delta[i]);
        }
        SlopeFit fit = SlopeFit.of("direct", 1e-3, k, delta);
        double[] reference = normalEquations(x, y);
        assertEquals(reference[0], fit.slope(), 1e-12);
        assertEquals(reference[1], fit.standardError(), 1e-12);
        assertEquals(reference[2], fit.intercept(), 1e-11);
        assertEquals(k.length, fit.points());
        // the synthetic truth lies within 3 standard errors, and the error is that of 0.8 noise over this design
        assertTrue(Math.abs(fit.slope() + 2) < 3 * fit.standardError(), fit.toString());
        assertTrue(fit.standardError() > 0.03 && fit.standardError() < 0.12, fit.toString());
    }

    @Test
    void meansFitIsTheLineThroughTheLogOfEachKsMean() {
        SplittableRandom random = new SplittableRandom(11);
        double[] ks = {2, 8, 4, 32, 16};
        int seeds = 3;
        double[] k = new double[ks.length * seeds];
        double[] delta = new double[k.length];
        for (int i = 0; i < k.length; i++) {
            k[i] = ks[i % ks.length];
            delta[i] = Math.pow(k[i], -2) * (0.5 + random.nextDouble());
        }
        double[] x = new double[ks.length];
        double[] y = new double[ks.length];
        for (int g = 0; g < ks.length; g++) {
            double sum = 0;
            for (int s = 0; s < seeds; s++) {
                sum += delta[s * ks.length + g];
            }
            x[g] = Math.log(ks[g]);
            y[g] = Math.log(sum / seeds);
        }
        SlopeFit fit = SlopeFit.ofMeans("direct mean", 1e-3, k, delta);
        double[] reference = normalEquations(x, y);
        assertEquals(reference[0], fit.slope(), 1e-12);
        assertEquals(reference[1], fit.standardError(), 1e-12);
        assertEquals(ks.length, fit.points());
    }

    @Test
    void twoPointsHaveNoStandardError() {
        SlopeFit fit = SlopeFit.of("closed", 1e-3, new double[]{2, 4}, new double[]{1, 0.25});
        assertEquals(-2, fit.slope(), 1e-12);
        assertTrue(Double.isNaN(fit.standardError()));
    }
}
