package dev.curvature.kfac.probe;

/**
 * The least-squares line log Δ = intercept + slope · log k through n points (natural logs), with the slope's standard
 * error √(s² / Σ(x − x̄)²), s² = Σ residual² / (n − 2) (NaN for n &lt; 3). A decay Δ ∝ k⁻² has slope −2.
 */
public record SlopeFit(String estimator, double sigma, double slope, double standardError, double intercept,
                       int points) {
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
