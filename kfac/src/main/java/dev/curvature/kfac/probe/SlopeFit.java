package dev.curvature.kfac.probe;

import java.util.Map;
import java.util.TreeMap;

/**
 * The least-squares line log Δ = intercept + slope · log k through n points (natural logs), with the slope's standard
 * error √(s² / Σ(x − x̄)²), s² = Σ residual² / (n − 2) (NaN for n &lt; 3). A decay Δ ∝ k⁻² has slope −2.
 * {@link #of} fits every (k, seed) point; {@link #ofMeans} fits log of the mean over the points at each k, which is
 * the better estimator when single Δ are χ²-like (log of one has a standard deviation near 2.2, of a mean of n
 * about √(2/n)); its standard error is still the residual one, so it needs three or more distinct k.
 */
public record SlopeFit(String estimator, double sigma, double slope, double standardError, double intercept,
                       int points) {
    /** The line through log of the mean Δ at each distinct k (points = the number of distinct k). */
    public static SlopeFit ofMeans(String estimator, double sigma, double[] k, double[] delta) {
        Map<Double, double[]> sums = new TreeMap<>();
        for (int i = 0; i < k.length; i++) {
            double[] sum = sums.computeIfAbsent(k[i], x -> new double[2]);
            sum[0] += delta[i];
            sum[1]++;
        }
        double[] ks = new double[sums.size()];
        double[] means = new double[sums.size()];
        int i = 0;
        for (var e : sums.entrySet()) {
            ks[i] = e.getKey();
            means[i++] = e.getValue()[0] / e.getValue()[1];
        }
        return of(estimator, sigma, ks, means);
    }

    public static SlopeFit of(String estimator, double sigma, double[] k, double[] delta) {
        int n = k.length;
        double mx = 0;
        double my = 0;
        for (int i = 0; i < n; i++) {
            mx += Math.log(k[i]);
            my += Math.log(delta[i]);
        }
        mx /= n;
        my /= n;
        double sxx = 0;
        double sxy = 0;
        for (int i = 0; i < n; i++) {
            double x = Math.log(k[i]) - mx;
            sxx += x * x;
            sxy += x * (Math.log(delta[i]) - my);
        }
        double slope = sxy / sxx;
        double intercept = my - slope * mx;
        double rss = 0;
        for (int i = 0; i < n; i++) {
            double r = Math.log(delta[i]) - intercept - slope * Math.log(k[i]);
            rss += r * r;
        }
        double se = n < 3 ? Double.NaN : Math.sqrt(rss / (n - 2) / sxx);
        return new SlopeFit(estimator, sigma, slope, se, intercept, n);
    }
}
