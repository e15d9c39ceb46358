package dev.curvature.kfac.probe;

import dev.curvature.transformer.model.Model;

import java.util.ArrayList;
import java.util.List;

/**
 * The probe over a grid of k and seeds at one w* (ALGORITHMS.md §3.3–3.4): for each seed the windows are one
 * shuffled order of the corpus, so the data of each k extends that of the smaller ones; then, per σ and estimator
 * (full-space, direct, closed form), the fitted log-log slope of Δ against k over all (k, seed) runs.
 *
 * @param runs one {@link LandscapeProbe.Result} per (k, seed), k outer
 * @param fits per σ: the slopes of "full", "direct" and "closed" over all (k, seed) points (two or more distinct
 *             k), and of "full mean", "direct mean", "closed mean" through the log of the mean over seeds at each k
 *             (three or more distinct k)
 */
public record ProbeSweep(List<LandscapeProbe.Result> runs, List<SlopeFit> fits) {

    public static ProbeSweep run(Model model, ParameterSelection selection, int[] tokens, int time, List<Integer> ks,
                                 List<Long> seeds, LandscapeProbe.Options options, LandscapeProbe.Progress progress) {
        List<LandscapeProbe.Result> runs = new ArrayList<>();
        for (int k : ks) {
            for (long seed : seeds) {
                int[][] windows = LandscapeProbe.nestedWindows(tokens, time, k, options.nextWindows(), seed);
                LandscapeProbe.Options seeded = options.withSeed(seed);
                runs.add(LandscapeProbe.run(model, selection, time, windows[0], windows[1], seeded,
                        (stage, done, total) -> progress.update("k=" + k + " seed=" + seed + " " + stage, done,
                                total)));
            }
        }
        List<SlopeFit> fits = new ArrayList<>();
        if (ks.stream().distinct().count() >= 2) {
            for (int si = 0; si < options.sigmas().size(); si++) {
                double sigma = options.sigmas().get(si);
                double[] k = new double[runs.size()];
                double[] full = new double[runs.size()];
                double[] direct = new double[runs.size()];
                double[] closed = new double[runs.size()];
                for (int r = 0; r < runs.size(); r++) {
                    LandscapeProbe.SigmaResult s = runs.get(r).sigmas().get(si);
                    k[r] = runs.get(r).k();
                    full[r] = s.fullSpace().value();
                    direct[r] = s.direct().value();
                    closed[r] = s.closedForm().value();
                }
                fits.add(SlopeFit.of("full", sigma, k, full));
                fits.add(SlopeFit.of("direct", sigma, k, direct));
                fits.add(SlopeFit.of("closed", sigma, k, closed));
                if (ks.stream().distinct().count() >= 3) {
                    fits.add(SlopeFit.ofMeans("full mean", sigma, k, full));
                    fits.add(SlopeFit.ofMeans("direct mean", sigma, k, direct));
                    fits.add(SlopeFit.ofMeans("closed mean", sigma, k, closed));
                }
            }
        }
        return new ProbeSweep(List.copyOf(runs), List.copyOf(fits));
    }
}
