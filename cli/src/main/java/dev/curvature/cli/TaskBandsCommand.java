package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.DType;
import dev.curvature.kfac.BandActivation;
import dev.curvature.kfac.BandAnalysis;
import dev.curvature.kfac.CurvatureBand;
import dev.curvature.kfac.EditSweep;
import dev.curvature.kfac.FactorCollection;
import dev.curvature.kfac.FactorEigenbasis;
import dev.curvature.kfac.FactorStore;
import dev.curvature.kfac.KfacCollector;
import dev.curvature.kfac.ModelFingerprint;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.eval.AbilityEval;
import dev.curvature.transformer.eval.Correlation;
import dev.curvature.transformer.eval.RecitationEval;
import dev.curvature.transformer.model.CausalLm;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.tokenizer.ByteTokenizer;
import dev.curvature.transformer.tokenizer.Tokenizer;
import dev.curvature.transformer.train.TokenWindows;
import dev.curvature.transformer.workbench.TaskSample;
import dev.curvature.transformer.workbench.TaskSuite;
import dev.curvature.transformer.workbench.WorkbenchCorpus;
import dev.curvature.transformer.workbench.WorkbenchManifest;
import org.knowm.xchart.AnnotationText;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code curvature task-bands}: paper §4 / Fig. 4 at workbench scale — which abilities the K-FAC edit costs, and
 * whether a task's activation in the low-curvature bands predicts its drop.
 */
@Command(name = "task-bands", mixinStandardHelpOptions = true,
        description = {"Task-band analysis (paper §4, Fig. 4) on a workbench model built with 'workbench --tasks'.",
                "",
                "Steps: (1) rebuild the model's workbench from <model>/workbench-manifest.json (checked file by "
                        + "file); (2) collect K-FAC factors on clean held-in text as the demo does; (3) evaluate the "
                        + "unedited model and the K-FAC edit of every layer set × ρ on the task sets (closed-book, "
                        + "open-book, open-book-unseen, arithmetic: exact answer, greedy), canary recitation "
                        + "(strict) and held-out perplexity; (4) per layer set, band activation of each task set "
                        + "(prompt + answer) and of the canaries against clean held-out windows, both statistics, "
                        + "averaged over the set's layers; (5) per layer set, the correlation over the task sets "
                        + "(canaries included) of the bottom-band ratio with the drop (unedited − edited, mean over "
                        + "ρ, and per ρ) of exact accuracy and of teacher-forced accuracy over the answer tokens "
                        + "(graded: it moves where exact answers are all right or all wrong).",
                "",
                "Writes <out>/report.json, <out>/table.txt, <out>/factors.safetensors and "
                        + "<out>/band-vs-drop.png. Prints the table on stderr; --json also prints the report on "
                        + "stdout."})
final class TaskBandsCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "Workbench model directory whose workbench-manifest.json records task data.")
    Path model;

    @Option(names = "--out", paramLabel = "DIR", description = "Run folder (default: runs/task-bands-<date>-<time>).")
    Path out;

    @Option(names = "--rho", split = ",", paramLabel = "ρ", defaultValue = "0.95,0.98,0.99",
            description = "Curvature-mass fractions the edit keeps (default: ${DEFAULT-VALUE}, the demo's).")
    List<Double> rho;

    @Option(names = "--layer-sets", paramLabel = "SPEC",
            description = "Layer sets, 'name=globs' separated by ';' (default: the demo's three sets).")
    String layerSets;

    @Option(names = "--factor-tokens", defaultValue = "65536", paramLabel = "N",
            description = "Clean held-in tokens for the factors (default: ${DEFAULT-VALUE}).")
    int factorTokens;

    @Option(names = "--eval-tokens", defaultValue = "16384", paramLabel = "N",
            description = "Held-out tokens for perplexity and as the clean text of the bands (default: "
                    + "${DEFAULT-VALUE}).")
    int evalTokens;

    @Option(names = "--labels", defaultValue = "SAMPLED", paramLabel = "GOLD|SAMPLED",
            description = "Labels of the factor gradients (default: ${DEFAULT-VALUE}).")
    KfacCollector.Labels labels;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of label sampling (default: ${DEFAULT-VALUE}).")
    long seed;

    @Mixin
    BackendOptions compute;

    @Mixin
    ReportOutput output;

    /** The "task" of the canaries in the correlation: strict recitation counts as its accuracy. */
    static final String CANARIES = "canaries";

    @Override
    public Integer call() throws Exception {
        for (double r : rho) {
            if (!(r > 0 && r <= 1)) {
                throw new IllegalArgumentException("--rho " + r + " is out of range: allowed (0, 1]");
            }
        }
        OptionRanges.require("--factor-tokens", factorTokens, 1, Integer.MAX_VALUE);
        OptionRanges.require("--eval-tokens", evalTokens, 1, Integer.MAX_VALUE);
        Path manifestFile = model.resolve("workbench-manifest.json");
        if (!Files.isRegularFile(manifestFile)) {
            throw new IllegalArgumentException("--model " + model + ": no workbench-manifest.json (task-bands needs "
                    + "a workbench model)");
        }
        WorkbenchManifest manifest = WorkbenchManifest.read(manifestFile);
        if (manifest.tasks() == null) {
            throw new IllegalArgumentException(manifestFile + " records no task data: build the workbench with "
                    + "'workbench --tasks' and train on it");
        }
        Path run = out != null ? out : Path.of("runs", "task-bands-"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        OutputPaths.requireDistinct("--out", run, "model directory (--model)", model);
        Files.createDirectories(run);
        System.err.println("workbench: rebuilding from " + manifest.sourceDescription() + ", seed "
                + manifest.options().seed() + ", with tasks");
        WorkbenchCorpus corpus = manifest.rebuild(manifest.source());
        Map<String, List<TaskSample>> taskSets = TaskSuite.generate(manifest.tasks()).evalSets();
        try (Backend backend = compute.backend()) {
            Model loaded = ModelCheckpoints.load(backend, model, DType.F32);
            try {
                if (!(loaded instanceof CausalLm lm) || loaded.config().vocabSize() != 256) {
                    throw new IllegalArgumentException(model + ": task-bands needs a byte-level causal language "
                            + "model (the workbench is byte-level text)");
                }
                return analyse(backend, lm, corpus, taskSets, run);
            } finally {
                loaded.parameters().close();
            }
        }
    }

    private int analyse(Backend backend, CausalLm lm, WorkbenchCorpus corpus, Map<String, List<TaskSample>> taskSets,
                        Path run) throws IOException {
        Tokenizer bytes = new ByteTokenizer();
        int time = lm.config().contextLength();
        DemoCommand layerSpec = new DemoCommand();
        layerSpec.layerSets = layerSets;
        List<EditSweep.LayerSet> sets = layerSpec.layerSets(lm.config());
        List<String> layers = new ArrayList<>();
        sets.forEach(s -> s.layers().stream().filter(l -> !layers.contains(l)).forEach(layers::add));

        int[] heldIn = TokenWindows.evenlySpaced(bytes.encode(corpus.trainClean()), Math.max(1, factorTokens / time),
                time);
        Path factorFile = run.resolve("factors.safetensors");
        var options = new FactorCollection.Options(String.join(",", layers), labels, seed, 16, time, 0,
                CovariancePrecision.F32_WITH_F64_SUMS, 0, "bytes");
        ProgressLine collectProgress = new ProgressLine("factors", "windows");
        FactorCollection.Result collected = FactorCollection.run(lm, heldIn, options, factorFile,
                collectProgress::update);
        String fingerprint = collected.description().model();

        Map<String, FactorEigenbasis> bases = new LinkedHashMap<>();
        try {
            try (FactorStore.Loaded f = FactorStore.read(backend, factorFile)) {
                for (String layer : layers) {
                    bases.put(layer, FactorEigenbasis.of(backend, f.factors().get(layer)));
                }
            }
            List<TaskSample> allTasks = new ArrayList<>();
            taskSets.values().forEach(allTasks::addAll);
            List<RecitationEval.Sample> canaries = new ArrayList<>();
            DemoCommand.addSamples(canaries, CANARIES, corpus.canaries(), bytes);
            int[] heldOut = TokenWindows.evenlySpaced(bytes.encode(corpus.heldout()), Math.max(1, evalTokens / time),
                    time);
            AbilityEval eval = new AbilityEval(allTasks, canaries, heldOut, time, 16);
            AbilityEval.Result unedited = eval.evaluate(lm, bytes);

            List<EditSweep.Budget> budgets = rho.stream().map(EditSweep.Budget::mass).toList();
            EditSweep<CausalLm, AbilityEval.Result> sweep = new EditSweep<>(backend, lm, bases,
                    m -> eval.evaluate(m, bytes), seed);
            ProgressLine sweepProgress = new ProgressLine("edits", "variants");
            List<EditSweep.Variant<AbilityEval.Result>> variants = sweep.run(sets, budgets,
                    List.of(EditSweep.Method.KFAC), (done, total, v) -> sweepProgress.update(done, total, 0));
            if (!ModelFingerprint.of(lm.parameters()).equals(fingerprint)) {
                throw new IllegalStateException("the model was not restored after the sweep: a bug in EditSweep");
            }

            // band activation of each task set (prompt + answer) and the canaries, per layer set
            Map<String, List<int[]>> texts = new LinkedHashMap<>();
            taskSets.forEach((name, set) -> texts.put(name, set.stream().map(s -> bytes.encode(s.text())).toList()));
            texts.put(CANARIES, corpus.canaries().stream().map(c -> bytes.encode(c.text())).toList());
            var bandOptions = new BandAnalysis.Options(CurvatureBand.DEFAULTS, 16, time, heldOut.length);
            ProgressLine bandProgress = new ProgressLine("bands", "sequences");
            Map<String, Map<String, BandAnalysis.Report>> bands = new LinkedHashMap<>();   // layer set → data set
            for (EditSweep.LayerSet set : sets) {
                bands.put(set.name(), BandAnalysis.runEach(lm, bases, fingerprint, set.layers(), texts, heldOut,
                        bandOptions, (s, done, total, positions) -> bandProgress.update(done, total, positions)));
            }
            TaskBandsReport report = new TaskBandsReport(List.copyOf(texts.keySet()), sets, budgets, unedited,
                    variants, bands);
            String table = report.table();
            Files.writeString(run.resolve("table.txt"), table);
            Map<String, Object> json = report.json();
            Files.writeString(run.resolve("report.json"), Json.write(json) + "\n");
            report.plot(run.resolve("band-vs-drop.png"));
            output.print(json, table);
            System.err.println("run folder: " + run + " (report.json, table.txt, band-vs-drop.png, factors.safetensors)");
            return 0;
        } finally {
            bases.values().forEach(FactorEigenbasis::close);
        }
    }

    /** The tables, JSON and plot of one analysis. */
    record TaskBandsReport(List<String> dataSets, List<EditSweep.LayerSet> sets, List<EditSweep.Budget> budgets,
                           AbilityEval.Result unedited, List<EditSweep.Variant<AbilityEval.Result>> variants,
                           Map<String, Map<String, BandAnalysis.Report>> bands) {

        /** Accuracy of a data set: task accuracy, or strict recitation for the canaries. */
        static double accuracy(AbilityEval.Result r, String dataSet) {
            return CANARIES.equals(dataSet) ? r.recitation().overall().strict()
                    : r.tasks().byTask().get(dataSet).accuracy();
        }

        /** Teacher-forced accuracy of a data set over its answers (canaries: over their secrets). */
        static double teacherForced(AbilityEval.Result r, String dataSet) {
            return CANARIES.equals(dataSet) ? r.recitation().overall().teacherForcedAccuracy()
                    : r.tasks().byTask().get(dataSet).teacherForcedAccuracy();
        }

        static double measure(AbilityEval.Result r, String dataSet, boolean exact) {
            return exact ? accuracy(r, dataSet) : teacherForced(r, dataSet);
        }

        /** ratio_band averaged over the set's layers; statistic (a) output norm or (b) projection RMS. */
        double ratio(String set, String dataSet, int band, boolean outputNorm) {
            double sum = 0;
            List<BandAnalysis.LayerReport> layers = bands.get(set).get(dataSet).layers();
            for (BandAnalysis.LayerReport l : layers) {
                BandActivation.BandRatio r = l.ratios().get(band);
                sum += outputNorm ? r.outputNormRatio() : r.projectionRmsRatio();
            }
            return sum / layers.size();
        }

        int bottomBand() {
            return CurvatureBand.DEFAULTS.size() - 1;
        }

        List<EditSweep.Variant<AbilityEval.Result>> of(String set) {
            return variants.stream().filter(v -> v.layerSet().equals(set)).toList();
        }

        /**
         * Drop of each data set under the set's edits: unedited − edited exact accuracy (or teacher-forced
         * accuracy), mean over the budgets.
         */
        double[] meanDrops(String set, boolean exact) {
            double[] drop = new double[dataSets.size()];
            List<EditSweep.Variant<AbilityEval.Result>> vs = of(set);
            for (int d = 0; d < dataSets.size(); d++) {
                for (var v : vs) {
                    drop[d] += (measure(unedited, dataSets.get(d), exact)
                            - measure(v.evaluation(), dataSets.get(d), exact)) / vs.size();
                }
            }
            return drop;
        }

        double[] bottomRatios(String set, boolean outputNorm) {
            return dataSets.stream().mapToDouble(d -> ratio(set, d, bottomBand(), outputNorm)).toArray();
        }

        String table() {
            StringBuilder out = new StringBuilder();
            List<String> header = new ArrayList<>(List.of("edit", "kept"));
            dataSets.forEach(header::add);
            header.addAll(List.of("ppl", "ppl (batch mean)"));
            List<List<String>> rows = new ArrayList<>();
            rows.add(row("unedited", 1.0, unedited));
            for (var v : variants) {
                rows.add(row("K-FAC " + v.layerSet() + " " + v.budget(), v.keptFraction(), v.evaluation()));
            }
            out.append("Task accuracy: exact answer, greedy / teacher-forced accuracy over the answer tokens (canaries: "
                    + "strict recitation / teacher-forced accuracy on the secrets); held-out perplexity\n");
            out.append(EvalReport.render(header, rows));

            out.append("\nBand activation relative to clean held-out text, ratio_band = E_data[act] / E_clean[act], "
                    + "mean over the set's layers; (a) ‖W_band x‖ / (b) RMS of v_jᵀx\n");
            List<String> bandHeader = new ArrayList<>(List.of("layer set", "data"));
            CurvatureBand.DEFAULTS.forEach(b -> bandHeader.add(b.label()));
            List<List<String>> bandRows = new ArrayList<>();
            for (EditSweep.LayerSet set : sets) {
                for (String d : dataSets) {
                    List<String> r = new ArrayList<>(List.of(set.name(), d));
                    for (int b = 0; b < CurvatureBand.DEFAULTS.size(); b++) {
                        r.add(String.format("%.3f / %.3f", ratio(set.name(), d, b, true),
                                ratio(set.name(), d, b, false)));
                    }
                    bandRows.add(r);
                }
            }
            out.append(EvalReport.render(bandHeader, bandRows));

            out.append("\nCorrelation over the " + dataSets.size() + " data sets of the bottom-50% band ratio with "
                    + "the drop (unedited − edited) of exact accuracy or of teacher-forced (TF) accuracy: Pearson r "
                    + "(Spearman ρ_s); NaN where no data set's figure moved\n");
            List<String> corrHeader = new ArrayList<>(List.of("layer set", "statistic", "drop of", "mean over ρ"));
            budgets.forEach(b -> corrHeader.add("at " + b));
            List<List<String>> corrRows = new ArrayList<>();
            for (EditSweep.LayerSet set : sets) {
                for (boolean exact : new boolean[]{true, false}) {
                    for (boolean outputNorm : new boolean[]{true, false}) {
                        double[] x = bottomRatios(set.name(), outputNorm);
                        List<String> r = new ArrayList<>(List.of(set.name(), outputNorm ? "(a) ‖W_band x‖"
                                : "(b) RMS", exact ? "exact" : "TF"));
                        r.add(corr(x, meanDrops(set.name(), exact)));
                        for (var v : of(set.name())) {
                            double[] y = dataSets.stream().mapToDouble(d -> measure(unedited, d, exact)
                                    - measure(v.evaluation(), d, exact)).toArray();
                            r.add(corr(x, y));
                        }
                        corrRows.add(r);
                    }
                }
            }
            out.append(EvalReport.render(corrHeader, corrRows));
            return out.toString();
        }

        private static String corr(double[] x, double[] y) {
            return String.format("%+.3f (%+.3f)", Correlation.pearson(x, y), Correlation.spearman(x, y));
        }

        private List<String> row(String name, double kept, AbilityEval.Result r) {
            List<String> row = new ArrayList<>(List.of(name, String.format("%.3f", kept)));
            for (String d : dataSets) {
                row.add(String.format("%.3f / %.3f", accuracy(r, d), teacherForced(r, d)));
            }
            row.add(String.format("%.3f", r.perplexity().perplexity()));
            row.add(String.format("%.3f", r.perplexity().meanOfBatchPerplexities()));
            return row;
        }

        Map<String, Object> json() {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("dataSets", dataSets);
            out.put("unedited", summary(unedited));
            List<Object> edits = new ArrayList<>();
            for (var v : variants) {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("layerSet", v.layerSet());
                e.put("budget", v.budget().toString());
                e.put("keptFraction", v.keptFraction());
                e.put("layers", v.layers());
                e.putAll(summary(v.evaluation()));
                edits.add(e);
            }
            out.put("edits", edits);
            Map<String, Object> perSet = new LinkedHashMap<>();
            for (EditSweep.LayerSet set : sets) {
                Map<String, Object> s = new LinkedHashMap<>();
                s.put("layers", set.layers());
                Map<String, Object> ratios = new LinkedHashMap<>();
                for (String d : dataSets) {
                    List<Object> perBand = new ArrayList<>();
                    for (int b = 0; b < CurvatureBand.DEFAULTS.size(); b++) {
                        perBand.add(Map.of("band", CurvatureBand.DEFAULTS.get(b).label(),
                                "outputNormRatio", ratio(set.name(), d, b, true),
                                "projectionRmsRatio", ratio(set.name(), d, b, false)));
                    }
                    ratios.put(d, perBand);
                }
                s.put("bandRatios", ratios);
                double[] xa = bottomRatios(set.name(), true);
                double[] xb = bottomRatios(set.name(), false);
                for (boolean exact : new boolean[]{true, false}) {
                    String key = exact ? "exact" : "teacherForced";
                    double[] drops = meanDrops(set.name(), exact);
                    Map<String, Double> dropMap = new LinkedHashMap<>();
                    for (int d = 0; d < dataSets.size(); d++) {
                        dropMap.put(dataSets.get(d), drops[d]);
                    }
                    Map<String, Object> c = new LinkedHashMap<>();
                    c.put("meanDrop", dropMap);
                    c.put("pearsonBottomOutputNorm", Correlation.pearson(xa, drops));
                    c.put("spearmanBottomOutputNorm", Correlation.spearman(xa, drops));
                    c.put("pearsonBottomProjectionRms", Correlation.pearson(xb, drops));
                    c.put("spearmanBottomProjectionRms", Correlation.spearman(xb, drops));
                    s.put(key, c);
                }
                perSet.put(set.name(), s);
            }
            out.put("layerSets", perSet);
            return out;
        }

        private Map<String, Object> summary(AbilityEval.Result r) {
            Map<String, Object> s = new LinkedHashMap<>();
            Map<String, Double> acc = new LinkedHashMap<>();
            dataSets.forEach(d -> acc.put(d, accuracy(r, d)));
            s.put("accuracy", acc);
            Map<String, Double> tf = new LinkedHashMap<>();
            dataSets.forEach(d -> tf.put(d, teacherForced(r, d)));
            s.put("teacherForcedAccuracy", tf);
            s.put("perplexity", r.perplexity().perplexity());
            s.put("perplexityBatchMean", r.perplexity().meanOfBatchPerplexities());
            s.put("canaryLoose", r.recitation().overall().loose());
            return s;
        }

        /**
         * Fig. 4 at our scale: per layer set, bottom-band ratio (a) against the mean drop of teacher-forced accuracy
         * (graded, so it moves where exact answers do not), one point per data set.
         */
        void plot(Path png) throws IOException {
            System.setProperty("java.awt.headless", "true");
            XYChart chart = new XYChartBuilder().width(1000).height(650)
                    .title("Bottom-50% band activation vs teacher-forced accuracy drop, K-FAC edit (mean over ρ)")
                    .xAxisTitle("bottom-50% band ratio to clean text, (a) ‖W_band x‖")
                    .yAxisTitle("teacher-forced accuracy drop (unedited − edited)").build();
            chart.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
            chart.getStyler().setMarkerSize(10);
            for (EditSweep.LayerSet set : sets) {
                double[] x = bottomRatios(set.name(), true);
                double[] y = meanDrops(set.name(), false);
                chart.addSeries(String.format("%s (r = %+.2f)", set.name(), Correlation.pearson(x, y)), x, y);
                for (int d = 0; d < x.length; d++) {
                    chart.addAnnotation(new AnnotationText(dataSets.get(d), x[d], y[d] + 0.005, false));
                }
            }
            BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
        }
    }
}
