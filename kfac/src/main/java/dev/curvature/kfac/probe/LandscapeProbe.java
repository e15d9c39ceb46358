package dev.curvature.kfac.probe;

import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.train.TokenWindows;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The curvature-aligned landscape probe Δ₂^(D) (Kiselev &amp; Grabovoy; ALGORITHMS.md §3) at the model's weights w*,
 * on k + 1 nested sequences: L_k is the mean loss of the first k, ℓ_{k+1} that of sequence k + 1, and the increment
 * when it is added is computed without cancellation as
 * <pre>
 * δ(w) = L_{k+1}(w) − L_k(w) = (ℓ_{k+1}(w) − L_k(w)) / (k + 1)          (F64)
 * </pre>
 * Every sequence has the same number of scored positions, so L_{k+1}, the mean over the tokens of k + 1 sequences,
 * is (k L_k + ℓ_{k+1})/(k + 1). Stages, as the paper's Table 2:
 * <ol>
 * <li><b>subspace</b>: U_D, the top-D algebraic eigenvectors of H^(k) (Lanczos; or deflated power iteration);</li>
 * <li><b>coefficients</b>: a = δ(w*), c = Uᵀ∇δ(w*) = Uᵀ(∇ℓ_{k+1} − ∇L_k)/(k+1), B = Uᵀ(∇²ℓ_{k+1} − ∇²L_k)U/(k+1)
 * (2D products; the difference is formed before projecting, not H^(k+1) − H^(k) from two rounded matrices);</li>
 * <li><b>evaluation</b>, per σ: full-space Δ₂ = E[δ(w* + ε)²], ε ~ N(0, σ²I_N) over the selected parameters, by MC;
 * direct Δ₂^(D) = E[δ(w* + U z)²], z ~ N(0, σ²I_D), by MC; quadratic MC = E[q(z)²] on the same z; and the
 * closed form Δ_GM(σ) ({@link QuadraticIncrement}).</li>
 * </ol>
 * The MC draws are ξ_s ~ N(0, I) from the seed, scaled by each σ (the same ξ for every σ: common random numbers).
 * The weights are restored to w* bit for bit afterwards.
 */
public final class LandscapeProbe {
    /** Closed-form evaluations timed together (one takes nanoseconds). */
    static final int CLOSED_FORM_REPEATS = 10_000;

    private LandscapeProbe() {
    }

    /** Which solver builds U_D. */
    public enum Solver { LANCZOS, POWER }

    /**
     * @param dimension    D
     * @param sigmas       the σ grid
     * @param samples      S, MC samples per σ and estimator
     * @param seed         start vectors and MC draws
     * @param solver       subspace construction
     * @param iterations   solver iterations (Lanczos steps, or power iterations per vector); 0: the solver's default
     * @param tolerance    solver tolerance; 0: the solver's default
     * @param relativeStep c of the HVP step ε = c(1 + ‖w*‖)/‖v‖
     * @param nextWindows M, candidate windows for sequence k + 1: each is added to the same first k in turn and the
     *                    estimates are averaged over them (the expectation over which sequence is added, at the
     *                    cost of one subspace)
     */
    public record Options(int dimension, List<Double> sigmas, int samples, long seed, Solver solver, int iterations,
                          double tolerance, double relativeStep, int nextWindows) {
        public Options {
            if (nextWindows < 1) {
                throw new IllegalArgumentException("--next must be >= 1, got " + nextWindows);
            }
            sigmas = List.copyOf(sigmas);
            if (sigmas.isEmpty() || sigmas.stream().anyMatch(s -> !(s > 0))) {
                throw new IllegalArgumentException("--sigma values must be > 0, got " + sigmas);
            }
            if (samples < 2) {
                throw new IllegalArgumentException("--samples must be >= 2 (an MC error needs two), got " + samples);
            }
            if (dimension < 1) {
                throw new IllegalArgumentException("--dim must be >= 1, got " + dimension);
            }
        }

        /** Lanczos with its defaults and the default HVP step. */
        public static Options of(int dimension, List<Double> sigmas, int samples, long seed) {
            return new Options(dimension, sigmas, samples, seed, Solver.LANCZOS, 0, 0,
                    HessianVectorProduct.DEFAULT_RELATIVE_STEP, 1);
        }

        /** These options with another seed. */
        public Options withSeed(long newSeed) {
            return new Options(dimension, sigmas, samples, newSeed, solver, iterations, tolerance, relativeStep,
                    nextWindows);
        }

        EigenOptions eigenOptions(long n) {
            EigenOptions base = solver == Solver.LANCZOS ? EigenOptions.lanczos(dimension, n, seed)
                    : EigenOptions.power(dimension, seed);
            return new EigenOptions(dimension, iterations > 0 ? iterations : base.maxIterations(),
                    tolerance > 0 ? tolerance : base.tolerance(), seed);
        }
    }

    /**
     * One estimate of E[δ²].
     *
     * @param value         the estimate (with M candidate windows: the mean over them)
     * @param standardError M = 1: MC, the sample standard deviation of δ_s² over √S, the closed form 0; M &gt; 1: the
     *                      standard deviation over the M candidates of their estimates over √M (the spread of which
     *                      sequence is added, MC noise included; the draws z are shared by the candidates)
     * @param seconds       wall time of this evaluation (closed form: one evaluation, the mean of many)
     */
    public record Estimate(double value, double standardError, double seconds) {
    }

    /**
     * The four estimators at one σ.
     *
     * @param subspaceRatio      direct Δ₂^(D) / full-space Δ₂
     * @param ratioStandardError its error by the delta method: M = 1, from the two independent MC errors,
     *                           r √((se_D/D)² + (se_F/F)²); M &gt; 1, paired over the candidates j,
     *                           √(Σ_j (D_j − r F_j)² / (M(M − 1))) / F
     * @param quadraticError     |quadratic MC − direct| / direct (the Taylor model's error on the same draws)
     */
    public record SigmaResult(double sigma, Estimate fullSpace, Estimate direct, Estimate quadraticMc,
                              Estimate closedForm, double subspaceRatio, double ratioStandardError,
                              double quadraticError) {
    }

    /** Wall times of the first two stages (the third is in each {@link Estimate}). */
    public record Timings(double subspaceSeconds, double coefficientSeconds) {
    }

    /**
     * A probe at one k.
     *
     * @param parameters  N, the selected parameters
     * @param lossK       L_k(w*)
     * @param lossNext    ℓ_{k+1}(w*) of the first candidate window
     * @param eigenvalues the top-D eigenvalues of H^(k) found, with their measured residuals ‖Hu − λu‖
     * @param quadratic   a, c, B of the first candidate window
     * @param nextWindows M, the candidate windows averaged over
     * @param weightRms   ‖w*‖/√N over the selected parameters (the scale σ is measured against; σ is absolute)
     * @param incrementGradientSquared ‖∇δ(w*)‖² over all N selected parameters, mean over the candidates: full-space
     *                    Δ₂ = a² + σ²‖∇δ‖² + O(σ⁴), against the subspace's a² + σ²‖c‖² + O(σ⁴)
     * @param incrementSubspaceGradientSquared ‖c‖², mean over the candidates
     * @param meanSquaredIncrement a², mean over the candidates
     * @param products    Hessian-vector products formed (subspace, residual checks and coefficients)
     */
    public record Result(int k, long seed, int time, long parameters, int dimension, double lossK, double lossNext,
                         double[] eigenvalues, double[] residuals, String solver, int solverIterations,
                         boolean solverConverged, QuadraticIncrement quadratic, int nextWindows, double weightRms,
                         double incrementGradientSquared, double incrementSubspaceGradientSquared,
                         double meanSquaredIncrement, long products, Timings timings, List<SigmaResult> sigmas) {
    }

    /** Told what the probe is doing: a stage name and its progress. */
    @FunctionalInterface
    public interface Progress {
        void update(String stage, long done, long total);

        Progress NONE = (stage, done, total) -> { };
    }

    /** {@link #nestedWindows(int[], int, int, int, long)} with one candidate for sequence k + 1. */
    public static int[][] nestedWindows(int[] tokens, int time, int k, long seed) {
        return nestedWindows(tokens, time, k, 1, seed);
    }

    /**
     * The k + M nested windows of {@code time} tokens for {@code seed}: {@code tokens} is cut into consecutive
     * non-overlapping windows (targets the next token, −1 at each window's last position), shuffled by the seed; the
     * first k + M of that order are returned as {ids, targets} ((k+M)·T each): the first k the data of L_k, the
     * next M the candidates for sequence k + 1. Windows for a larger k extend those of a smaller one (nested data).
     */
    public static int[][] nestedWindows(int[] tokens, int time, int k, int next, long seed) {
        int available = tokens.length / time;
        if (k < 1) {
            throw new IllegalArgumentException("--k must be >= 1, got " + k);
        }
        if (next < 1) {
            throw new IllegalArgumentException("--next must be >= 1, got " + next);
        }
        if (k + next > available) {
            throw new IllegalArgumentException("--k " + k + " with --next " + next + " needs " + (k + next)
                    + " windows of " + time + " tokens; the corpus has " + tokens.length + " tokens (" + available
                    + " windows)");
        }
        int[] order = new int[available];
        for (int i = 0; i < available; i++) {
            order[i] = i;
        }
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = available - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        int[] ids = new int[(k + next) * time];
        int[] targets = new int[(k + next) * time];
        int[] one = new int[time];
        int[] oneTargets = new int[time];
        for (int w = 0; w < k + next; w++) {
            TokenWindows.consecutive(tokens, order[w], 1, time, one, oneTargets);
            System.arraycopy(one, 0, ids, w * time, time);
            System.arraycopy(oneTargets, 0, targets, w * time, time);
        }
        return new int[][]{ids, targets};
    }

    /**
     * The probe at the model's current weights (F64) on {@code ids}/{@code targets}: (k+M)·T with M =
     * {@link Options#nextWindows()}, the first k windows the data of L_k, each of the last M in turn sequence k + 1.
     * The subspace, ∇L_k, H^(k)U and L_k at every draw are computed once and shared by the M candidates.
     */
    public static Result run(Model model, ParameterSelection selection, int time, int[] ids, int[] targets,
                             Options options, Progress progress) {
        int m = options.nextWindows();
        if (ids.length % time != 0 || ids.length / time < m + 1) {
            throw new IllegalArgumentException(ids.length + " tokens are not k + " + m + " windows of " + time
                    + " with k >= 1");
        }
        int k = ids.length / time - m;
        requireEqualCounts(targets, time);
        int d = options.dimension();
        if (d > selection.size()) {
            throw new IllegalArgumentException("--dim " + d + " exceeds the " + selection.size()
                    + " selected parameters");
        }
        int[] idsK = java.util.Arrays.copyOf(ids, k * time);
        int[] targetsK = java.util.Arrays.copyOf(targets, k * time);
        List<LossObjective> nexts = new ArrayList<>();
        List<HessianVectorProduct> hNexts = new ArrayList<>();
        try (LossObjective first = new LossObjective(model, selection, k, time, idsK, targetsK);
             HessianVectorProduct hk = new HessianVectorProduct(first, options.relativeStep());
             Arena arena = Arena.ofShared()) {
            for (int j = 0; j < m; j++) {
                int from = (k + j) * time;
                LossObjective next = new LossObjective(model, selection, 1, time,
                        java.util.Arrays.copyOfRange(ids, from, from + time),
                        java.util.Arrays.copyOfRange(targets, from, from + time));
                nexts.add(next);
                hNexts.add(new HessianVectorProduct(next, options.relativeStep()));
            }
            // 1. subspace
            progress.update("subspace", 0, 1);
            long t0 = System.nanoTime();
            EigenOptions eigen = options.eigenOptions(selection.size());
            RitzPairs pairs = options.solver() == Solver.LANCZOS ? Lanczos.topAlgebraic(hk, eigen, arena)
                    : DeflatedPowerIteration.topMagnitude(hk, eigen, arena);
            double subspaceSeconds = (System.nanoTime() - t0) / 1e9;
            progress.update("subspace", 1, 1);
            List<ParameterVector> u = pairs.vectors();

            // 2. coefficients: ∇L_k and H^(k)U once, then per candidate j its a, c, B
            long t1 = System.nanoTime();
            double lossK = first.loss();
            ParameterVector gradientK = hk.newVector(arena);
            first.gradient(gradientK);
            List<ParameterVector> hkU = new ArrayList<>();
            for (int i = 0; i < d; i++) {
                ParameterVector v = hk.newVector(arena);
                hk.apply(u.get(i), v);
                hkU.add(v);
            }
            ParameterVector gradient = hk.newVector(arena);
            ParameterVector product = hk.newVector(arena);
            ParameterVector scratch = hk.newVector(arena);
            List<QuadraticIncrement> quadratics = new ArrayList<>();
            double[] nextLosses = new double[m];
            double gradientSquared = 0;
            double subspaceGradientSquared = 0;
            double squaredIncrement = 0;
            for (int j = 0; j < m; j++) {
                nextLosses[j] = nexts.get(j).loss();
                double a = (nextLosses[j] - lossK) / (k + 1);
                nexts.get(j).gradient(gradient);
                gradient.axpy(-1, gradientK);
                gradient.scale(1.0 / (k + 1));
                double[] c = new double[d];
                for (int i = 0; i < d; i++) {
                    c[i] = u.get(i).dot(gradient);
                    subspaceGradientSquared += c[i] * c[i] / m;
                }
                gradientSquared += gradient.dot(gradient) / m;
                squaredIncrement += a * a / m;
                double[] b = new double[d * d];
                for (int col = 0; col < d; col++) {
                    hNexts.get(j).apply(u.get(col), product);
                    product.axpy(-1, hkU.get(col));
                    product.scale(1.0 / (k + 1));
                    for (int i = 0; i < d; i++) {
                        b[i * d + col] = u.get(i).dot(product);
                    }
                }
                quadratics.add(new QuadraticIncrement(a, c, HessianVectorProduct.symmetrized(b, d)));
                progress.update("coefficients", j + 1, m);
            }
            double coefficientSeconds = (System.nanoTime() - t1) / 1e9;

            // 3. evaluation
            ParameterVector weights = ParameterVector.view(model.backend(), model.parameters(), selection);
            ParameterVector center = hk.center();
            double weightRms = Math.sqrt(center.dot(center) / selection.size());
            List<SigmaResult> sigmas = new ArrayList<>();
            int s = options.samples();
            long step = 0;
            long total = (long) options.sigmas().size() * 2 * s;
            try {
                for (double sigma : options.sigmas()) {
                    SplittableRandom draws = new SplittableRandom(options.seed() ^ 0x5DEECE66DL);
                    double[][] z = new double[s][d];
                    for (double[] row : z) {
                        for (int i = 0; i < d; i++) {
                            row[i] = sigma * ParameterVector.gaussian(draws);
                        }
                    }
                    double[][] direct = new double[m][s];
                    long t2 = System.nanoTime();
                    for (int n = 0; n < s; n++) {
                        weights.copyFrom(center);
                        for (int i = 0; i < d; i++) {
                            weights.axpy(z[n][i], u.get(i));
                        }
                        double lossAtDraw = first.loss();
                        for (int j = 0; j < m; j++) {
                            double delta = (nexts.get(j).loss() - lossAtDraw) / (k + 1);
                            direct[j][n] = delta * delta;
                        }
                        progress.update("direct MC σ=" + sigma, ++step, total);
                    }
                    Estimate directEstimate = estimate(direct, (System.nanoTime() - t2) / 1e9);

                    double[][] quadratic = new double[m][s];
                    long t3 = System.nanoTime();
                    for (int j = 0; j < m; j++) {
                        for (int n = 0; n < s; n++) {
                            double v = quadratics.get(j).at(z[n]);
                            quadratic[j][n] = v * v;
                        }
                    }
                    Estimate quadraticEstimate = estimate(quadratic, (System.nanoTime() - t3) / 1e9);

                    double[][] closed = new double[m][1];
                    long t4 = System.nanoTime();
                    for (int r = 0; r < CLOSED_FORM_REPEATS; r++) {
                        for (int j = 0; j < m; j++) {
                            closed[j][0] = quadratics.get(j).closedForm(sigma);
                        }
                    }
                    double closedSeconds = (System.nanoTime() - t4) / 1e9 / CLOSED_FORM_REPEATS;
                    Estimate closedEstimate = estimate(closed, closedSeconds);

                    SplittableRandom noise = new SplittableRandom(options.seed() ^ 0x9E3779B97F4A7C15L);
                    double[][] full = new double[m][s];
                    long t5 = System.nanoTime();
                    for (int n = 0; n < s; n++) {
                        scratch.fillGaussian(noise, sigma);
                        weights.copyFrom(center);
                        weights.axpy(1, scratch);
                        double lossAtDraw = first.loss();
                        for (int j = 0; j < m; j++) {
                            double delta = (nexts.get(j).loss() - lossAtDraw) / (k + 1);
                            full[j][n] = delta * delta;
                        }
                        progress.update("full-space MC σ=" + sigma, ++step, total);
                    }
                    Estimate fullEstimate = estimate(full, (System.nanoTime() - t5) / 1e9);
                    double ratio = directEstimate.value() / fullEstimate.value();
                    sigmas.add(new SigmaResult(sigma, fullEstimate, directEstimate, quadraticEstimate, closedEstimate,
                            ratio, ratioError(direct, full, directEstimate, fullEstimate, ratio),
                            Math.abs(quadraticEstimate.value() - directEstimate.value()) / directEstimate.value()));
                }
            } finally {
                weights.copyFrom(center);
            }
            long products = hk.products();
            for (HessianVectorProduct h : hNexts) {
                products += h.products();
            }
            return new Result(k, options.seed(), time, selection.size(), d, lossK, nextLosses[0], pairs.values(),
                    pairs.residuals(), pairs.method(), pairs.iterations(), pairs.converged(), quadratics.get(0), m,
                    weightRms, gradientSquared, subspaceGradientSquared, squaredIncrement, products,
                    new Timings(subspaceSeconds, coefficientSeconds), sigmas);
        } finally {
            for (HessianVectorProduct h : hNexts) {
                h.close();
            }
            for (LossObjective next : nexts) {
                next.close();
            }
        }
    }

    /**
     * values[j][n]: candidate j, draw n. One candidate: the mean over the draws with its MC error; several: the mean
     * of the per-candidate means with their spread over √M.
     */
    private static Estimate estimate(double[][] values, double seconds) {
        if (values.length == 1) {
            return mean(values[0], seconds);
        }
        double[] perCandidate = new double[values.length];
        for (int j = 0; j < values.length; j++) {
            perCandidate[j] = mean(values[j], 0).value();
        }
        return mean(perCandidate, seconds);
    }

    private static double ratioError(double[][] direct, double[][] full, Estimate d, Estimate f, double ratio) {
        int m = direct.length;
        if (m == 1) {
            return ratio * Math.sqrt(Math.pow(d.standardError() / d.value(), 2)
                    + Math.pow(f.standardError() / f.value(), 2));
        }
        double ss = 0;
        for (int j = 0; j < m; j++) {
            double residual = mean(direct[j], 0).value() - ratio * mean(full[j], 0).value();
            ss += residual * residual;
        }
        return Math.sqrt(ss / (m * (m - 1.0))) / f.value();
    }

    private static Estimate mean(double[] values, double seconds) {
        double m = 0;
        for (double v : values) {
            m += v;
        }
        m /= values.length;
        double ss = 0;
        for (double v : values) {
            ss += (v - m) * (v - m);
        }
        double sd = Math.sqrt(ss / (values.length - 1));
        return new Estimate(m, sd / Math.sqrt(values.length), seconds);
    }

    private static void requireEqualCounts(int[] targets, int time) {
        int windows = targets.length / time;
        int expected = -1;
        for (int w = 0; w < windows; w++) {
            int count = 0;
            for (int t = 0; t < time; t++) {
                count += targets[w * time + t] >= 0 ? 1 : 0;
            }
            if (expected < 0) {
                expected = count;
            }
            if (count != expected || count == 0) {
                throw new IllegalArgumentException("probe window " + w + " scores " + count + " positions, window 0 "
                        + expected + ": nested means need equal, non-zero counts");
            }
        }
    }
}
