package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.model.Model;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The band activation analysis of paper §4 (ALGORITHMS.md §1.6), end to end: for chosen layers, build each layer's
 * curvature bands from its eigenbasis, run a data set (e.g. memorized samples, prompt + suffix) and clean text
 * through the model, tally both activation statistics of {@link BandActivation} at every position, and report
 * ratio_band = E_data[act_band] / E_clean[act_band] per layer and band.
 */
public final class BandAnalysis {
    private BandAnalysis() {
    }

    /**
     * @param bands        the curvature bands (e.g. {@link CurvatureBand#DEFAULTS})
     * @param batch        sequences per forward pass
     * @param cleanWindow  tokens per clean-text window; ≤ 0: the longest data sequence (after the cap), so both
     *                     sets are seen over the same range of positions
     * @param maxPositions cap on the positions tallied per set (≤ 0: all)
     */
    public record Options(List<CurvatureBand> bands, int batch, int cleanWindow, long maxPositions) {
        public Options {
            bands = List.copyOf(bands);
        }
    }

    /** One layer: the data set's and clean text's means, and their ratios per band. */
    public record LayerReport(String layer, BandActivation.LayerMeans data, BandActivation.LayerMeans clean,
                              List<BandActivation.BandRatio> ratios) {
    }

    /**
     * The whole analysis.
     *
     * @param model       fingerprint of the model's weights
     * @param cleanWindow tokens per clean window used
     * @param layers      per layer, in model order
     */
    public record Report(String model, int cleanWindow, List<LayerReport> layers) {
    }

    /** Progress of both passes: which set ("data", "clean"), sequences done of total, positions done. */
    @FunctionalInterface
    public interface Progress {
        void update(String set, long sequencesDone, long sequencesTotal, long positions);
    }

    /** With eigenbases decomposed here from factors, one layer at a time (each released once its bands are built). */
    public static Report run(Model model, FactorStore.Loaded factors, List<String> layers, List<int[]> data,
                             int[] cleanTokens, Options options, Progress progress) {
        ModelFingerprint.require(model.parameters(), factors.description().model());
        requireLayers(layers, factors.factors().keySet().stream().toList());
        return run(model, factors.description().model(), layers,
                layer -> FactorEigenbasis.of(model.backend(), factors.factors().get(layer)), true,
                data, cleanTokens, options, progress);
    }

    /** With stored eigenbases ({@link EigenbasisStore}; still owned by the caller). */
    public static Report run(Model model, EigenbasisStore.Loaded bases, List<String> layers, List<int[]> data,
                             int[] cleanTokens, Options options, Progress progress) {
        ModelFingerprint.require(model.parameters(), bases.factors().model());
        requireLayers(layers, bases.bases().keySet().stream().toList());
        return run(model, bases.factors().model(), layers, bases.bases()::get, false, data, cleanTokens, options,
                progress);
    }

    /**
     * With eigenbases already in memory (still owned by the caller), made from factors collected on the model whose
     * fingerprint is {@code factorsModel}.
     */
    public static Report run(Model model, Map<String, FactorEigenbasis> bases, String factorsModel,
                             List<String> layers, List<int[]> data, int[] cleanTokens, Options options,
                             Progress progress) {
        ModelFingerprint.require(model.parameters(), factorsModel);
        requireLayers(layers, List.copyOf(bases.keySet()));
        return run(model, factorsModel, layers, bases::get, false, data, cleanTokens, options, progress);
    }

    /**
     * {@link #run(Model, Map, String, List, List, int[], Options, Progress)} for several data sets at once (name →
     * sequences): each set's report is the one a run of its own gives, but the clean text is measured once per clean
     * window length instead of once per set (with a fixed {@link Options#cleanWindow} once in all).
     */
    public static Map<String, Report> runEach(Model model, Map<String, FactorEigenbasis> bases, String factorsModel,
                                              List<String> layers, Map<String, List<int[]>> dataSets,
                                              int[] cleanTokens, Options options, Progress progress) {
        ModelFingerprint.require(model.parameters(), factorsModel);
        requireLayers(layers, List.copyOf(bases.keySet()));
        return runAll(model, factorsModel, layers, bases::get, false, dataSets, cleanTokens, options, progress);
    }

    /** {@code fingerprint}: the model's, already checked against the factors' (the weights do not change here). */
    private static Report run(Model model, String fingerprint, List<String> layers,
                              Function<String, FactorEigenbasis> basisOf,
                              boolean releaseBases, List<int[]> data, int[] cleanTokens, Options options,
                              Progress progress) {
        return runAll(model, fingerprint, layers, basisOf, releaseBases, Map.of("data", data), cleanTokens, options,
                progress).get("data");
    }

    /** Every data set through the same band activations; the clean text measured once per clean window length. */
    private static Map<String, Report> runAll(Model model, String fingerprint, List<String> layers,
                                              Function<String, FactorEigenbasis> basisOf, boolean releaseBases,
                                              Map<String, List<int[]>> dataSets, int[] cleanTokens, Options options,
                                              Progress progress) {
        Backend backend = model.backend();
        Map<String, BandActivation> analyses = new LinkedHashMap<>();
        try {
            for (String layer : layers) {
                Tensor weight = model.parameters().get(layer + ".weight");
                FactorEigenbasis basis = basisOf.apply(layer);
                try {
                    analyses.put(layer, new BandActivation(backend, basis, weight, options.bands()));
                } finally {
                    if (releaseBases) {
                        basis.close();
                    }
                }
            }
            try (BandInputs inputs = new BandInputs(model, analyses.values())) {
                Map<Integer, Map<String, BandActivation.LayerMeans>> cleanByWindow = new HashMap<>();
                Map<String, Report> reports = new LinkedHashMap<>();
                for (Map.Entry<String, List<int[]>> set : dataSets.entrySet()) {
                    List<int[]> data = set.getValue();
                    Map<String, BandActivation.LayerMeans> onData = inputs.measure(data, options.batch(),
                            options.maxPositions(), (done, total, positions) -> progress.update("data", done, total,
                                    positions));
                    int window = options.cleanWindow() > 0 ? options.cleanWindow()
                            : longest(data, options.maxPositions());
                    window = Math.min(window, model.config().contextLength());
                    Map<String, BandActivation.LayerMeans> onClean = cleanByWindow.get(window);
                    if (onClean == null) {
                        List<int[]> windows = BandInputs.windows(cleanTokens, window, options.maxPositions());
                        if (windows.isEmpty()) {
                            throw new IllegalArgumentException("the clean text has no tokens");
                        }
                        onClean = inputs.measure(windows, options.batch(), options.maxPositions(),
                                (done, total, positions) -> progress.update("clean", done, total, positions));
                        cleanByWindow.put(window, onClean);
                    }
                    List<LayerReport> layerReports = new ArrayList<>();
                    for (String layer : layers) {
                        layerReports.add(new LayerReport(layer, onData.get(layer), onClean.get(layer),
                                BandActivation.ratios(onData.get(layer), onClean.get(layer))));
                    }
                    reports.put(set.getKey(), new Report(fingerprint, window, List.copyOf(layerReports)));
                }
                return reports;
            }
        } finally {
            analyses.values().forEach(BandActivation::close);
        }
    }

    /** The longest sequence as {@link BandInputs#measure} will run it (the cap cuts the last one). */
    private static int longest(List<int[]> sequences, long maxPositions) {
        int longest = 0;
        long positions = 0;
        for (int[] s : sequences) {
            if (maxPositions > 0 && positions >= maxPositions) {
                break;
            }
            int take = maxPositions > 0 ? (int) Math.min(s.length, maxPositions - positions) : s.length;
            longest = Math.max(longest, take);
            positions += take;
        }
        return Math.max(longest, 1);
    }

    private static void requireLayers(List<String> layers, List<String> available) {
        if (layers.isEmpty()) {
            throw new IllegalArgumentException("no layers chosen");
        }
        for (String layer : layers) {
            if (!available.contains(layer)) {
                throw new IllegalArgumentException("no factors for layer " + layer + " (the file holds " + available
                        + ")");
            }
        }
    }
}
