package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.kfac.score.Auroc;
import dev.curvature.kfac.score.InputCurvature;
import dev.curvature.kfac.score.SampleCurvatureScores;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.data.ImageDataset;
import dev.curvature.transformer.data.LabelNoise;
import dev.curvature.transformer.data.TextCorpus;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.ModelConfig;
import dev.curvature.transformer.tokenizer.Tokenizer;
import dev.curvature.transformer.train.SampleLosses;
import dev.curvature.transformer.train.TokenWindows;
import dev.curvature.transformer.vit.VitModel;
import dev.curvature.transformer.workbench.MemorizationSample;
import dev.curvature.transformer.workbench.MemorizationSet;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.IntFunction;

/**
 * {@code curvature score}: the per-sample input-curvature memorization score (Garg, Ravikumar, Roy 2024;
 * ALGORITHMS.md §2) at one or more checkpoints, and how well it separates the samples the model memorized (AUROC)
 * beside the per-sample loss: the training images of a vit-demo run (positives: the flipped labels), or token windows
 * of a language model (positives: memorization samples such as the workbench canaries, negatives: clean windows of
 * text it trained on).
 */
@Command(name = "score", mixinStandardHelpOptions = true,
        description = {"Scores samples by their input-loss curvature and reports the AUROC of the score for the "
                + "memorized ones, beside per-sample loss baselines.",
                "",
                "Curvature of sample x: (1/n) Σ_i ‖∇ₓℓ(x + h·v_i) − ∇ₓℓ(x)‖² over n Rademacher vectors v_i (≈ "
                        + "h²·tr(H²), H the input Hessian of the sample's own loss), in F64; also the official code's "
                        + "unsquared mean ‖Δ∇‖ and the trace estimate (1/n) Σ v_iᵀΔ∇/h ≈ tr(H). With several "
                        + "checkpoints the scores are averaged over them (the paper's score); the final loss and "
                        + "'curvature at the final checkpoint only' are the last checkpoint's.",
                "",
                "ViT (vit-demo run): every training image with its training label, x = its pixels; positives = "
                        + "the flipped labels of noise.json; baselines final loss, loss averaged over checkpoints and "
                        + "the cumulative sample loss (CSL) training recorded. Writes score-top.png (the --top "
                        + "highest-curvature images, flipped ones framed red) and score-histogram.png.",
                "",
                "Language model (gpt2, llama, olmo2): windows of tokens, ℓ = the window's summed next-token loss, "
                        + "x = its input embeddings; positives = --positives (memorization samples, prompt + suffix, "
                        + "e.g. the workbench's eval/canaries.jsonl), negatives = --negative-windows clean windows "
                        + "of the same length spread over --negatives (text the model trained on, e.g. the "
                        + "workbench's train-clean.txt). Writes score-histogram.png.",
                "",
                "Writes --out (JSONL, one line per sample with its scores and losses) and prints a table of AUROCs "
                        + "on stderr; --json prints the report on stdout."})
final class ScoreCommand implements Callable<Integer> {
    @Option(names = "--run", paramLabel = "DIR",
            description = "A run folder: a vit-demo --out (every snapshot <run>/checkpoints/step-*, then the final "
                    + "<run>/model, with its noise.json and the CSL training recorded), or a train --out (its "
                    + "snapshots <run>-snapshots/step-*, then <run>). Give --run or --model.")
    Path run;

    @Option(names = "--model", split = ",", paramLabel = "DIR",
            description = "Checkpoint directories instead of --run, comma-separated, in training order; the last is "
                    + "the final one (its " + SampleLosses.FILE + ", if any, gives the CSL baseline of a ViT).")
    List<Path> models;

    @Option(names = "--noise", paramLabel = "FILE",
            description = "ViT: the run's noise.json (default: in the folder holding the final model directory).")
    Path noiseFile;

    @Option(names = "--data", paramLabel = "DIR", description = "ViT: Fashion-MNIST IDX directory (default: "
            + "/usr/share/datasets/fashion-mnist).")
    Path data = ImageDataset.FASHION_MNIST;

    @Option(names = "--train-images", paramLabel = "N",
            description = "ViT: training images the run used, the first N of the training split (default: "
                    + "noise.json's \"images\").")
    Integer trainImages;

    @Option(names = "--positives", paramLabel = "FILE",
            description = "Language model: memorization samples, JSONL of {prompt, suffix, source, id} (the window is "
                    + "prompt + suffix); default: eval/canaries.jsonl in the final model directory.")
    Path positives;

    @Option(names = "--negatives", paramLabel = "FILE",
            description = "Language model: clean text (or JSONL) the model trained on; required for a language "
                    + "model.")
    Path negatives;

    @Option(names = "--negative-windows", defaultValue = "256", paramLabel = "N",
            description = "Language model: clean windows taken evenly spaced from --negatives, each as long as the "
                    + "first positive (default: ${DEFAULT-VALUE}).")
    int negativeWindows;

    @Option(names = "--tokenizer", paramLabel = "FILE|bytes",
            description = "Language model: tokenizer.json or 'bytes' (default: the final model directory's "
                    + "tokenizer.json, else bytes for a vocabulary of 256).")
    String tokenizer;

    @Option(names = "--draws", defaultValue = "10", paramLabel = "n",
            description = "Rademacher vectors per sample (default: ${DEFAULT-VALUE}).")
    int draws;

    @Option(names = "--step", defaultValue = "1e-3", paramLabel = "h",
            description = "Finite-difference step (default: ${DEFAULT-VALUE}).")
    double step;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the Rademacher draws (default: "
            + "${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--batch", defaultValue = "64", description = "Samples per pass (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--out", paramLabel = "FILE",
            description = "Per-sample scores, JSONL (default: scores.jsonl in the folder holding the final model "
                    + "directory).")
    Path out;

    @Option(names = "--top", defaultValue = "32", paramLabel = "K",
            description = "ViT: images in score-top.png (default: ${DEFAULT-VALUE}).")
    int top;

    @Option(names = "--plots", paramLabel = "DIR",
            description = "Where the PNGs go (default: the folder holding the final model directory).")
    Path plots;

    @Mixin
    BackendOptions compute;

    @Mixin
    ReportOutput output;

    /**
     * What is scored, kind by kind: the samples' scorer under one checkpoint, which are positives, each sample's own
     * JSONL fields, baselines known without scoring (the CSL), and words for the table.
     */
    private record Samples(String noun, String positiveName, String negativeName, boolean[] positive,
                           ModelScorer scorer, IntFunction<String> jsonFields, Map<String, double[]> baselines,
                           Map<String, Object> report, String heading, ImagePlot imagePlot) {
    }

    @FunctionalInterface
    private interface ModelScorer {
        SampleCurvatureScores.Result score(Model model, SampleCurvatureScores.Progress progress);
    }

    /** The top-k grid of a ViT run. */
    private record ImagePlot(ImageDataset images, int[] labels, int[] trueLabels) {
    }

    @Override
    public Integer call() throws Exception {
        OptionRanges.require("--batch", batch, 1, Integer.MAX_VALUE);
        OptionRanges.require("--top", top, 0, Integer.MAX_VALUE);
        OptionRanges.require("--negative-windows", negativeWindows, 1, 1_000_000);
        InputCurvature.Options options = new InputCurvature.Options(draws, step, seed);
        List<Path> checkpointDirs = checkpoints();
        Path finalModel = checkpointDirs.getLast();
        Path runFolder = finalModel.toAbsolutePath().getParent();
        ModelConfig config = ModelCheckpoints.readConfig(finalModel);
        Samples samples = config.modelType().equals("vit") ? images(runFolder, finalModel, options)
                : windows(finalModel, config, options);
        Path jsonl = out != null ? out : runFolder.resolve("scores.jsonl");
        Path plotFolder = plots != null ? plots : runFolder;
        List<Path> inputs = new ArrayList<>(checkpointDirs);
        for (Path p : new Path[]{positives, negatives, noiseFile}) {
            if (p != null) {
                inputs.add(p);
            }
        }
        OutputPaths.requireDistinct("--out", jsonl, Map.of("inputs", inputs));
        OutputPaths.requireDistinct("--plots", plotFolder.resolve("score-histogram.png"), Map.of("inputs", inputs));

        List<SampleCurvatureScores.Scores> perCheckpoint = new ArrayList<>();
        List<SampleCurvatureScores.Throughput> throughput = new ArrayList<>();
        try (Backend backend = compute.backend()) {
            for (Path dir : checkpointDirs) {
                Model model = ModelCheckpoints.load(backend, dir, DType.F64);
                try {
                    if (!model.config().modelType().equals(config.modelType())) {
                        throw new IllegalArgumentException("--model " + dir + " is a " + model.config().modelType()
                                + " checkpoint, the final one (" + finalModel + ") a " + config.modelType());
                    }
                    ProgressLine progress = new ProgressLine("score " + dir.getFileName(), samples.noun(),
                            samples.noun());
                    SampleCurvatureScores.Result r = samples.scorer().score(model,
                            (done, total) -> progress.update(done, total, done));
                    perCheckpoint.add(r.scores());
                    throughput.add(r.throughput());
                } finally {
                    model.parameters().close();
                }
            }
        }
        SampleCurvatureScores.Scores mean = SampleCurvatureScores.Scores.mean(perCheckpoint);
        double[] finalLoss = perCheckpoint.getLast().loss();
        boolean[] positive = samples.positive();
        writeJsonl(jsonl, samples, mean, finalLoss);

        Map<String, Double> auroc = new LinkedHashMap<>();
        auroc.put("curvature", Auroc.of(mean.squared(), positive));
        auroc.put("curvatureNorm", Auroc.of(mean.norm(), positive));
        if (checkpointDirs.size() > 1) {
            auroc.put("curvatureFinal", Auroc.of(perCheckpoint.getLast().squared(), positive));
        }
        auroc.put("finalLoss", Auroc.of(finalLoss, positive));
        if (checkpointDirs.size() > 1) {
            auroc.put("meanLoss", Auroc.of(mean.loss(), positive));
        }
        samples.baselines().forEach((name, values) -> auroc.put(name, Auroc.of(values, positive)));

        Files.createDirectories(plotFolder);
        List<Path> pngs = new ArrayList<>();
        if (samples.imagePlot() != null) {
            ImagePlot ip = samples.imagePlot();
            Path topPng = plotFolder.resolve("score-top.png");
            ScorePlots.topImages(topPng, String.format("the %d highest-curvature training images of %d (red: label "
                            + "flipped)", Math.min(top, positive.length), positive.length), ip.images(),
                    ScorePlots.top(mean.squared(), top), ip.labels(), ip.trueLabels());
            pngs.add(topPng);
        }
        Path histogramPng = plotFolder.resolve("score-histogram.png");
        ScorePlots.histogram(histogramPng, "input curvature (1/n) Σ ‖Δ∇‖², averaged over " + checkpointDirs.size()
                + " checkpoint(s)", mean.squared(), positive, samples.positiveName(), samples.negativeName(), 40);
        pngs.add(histogramPng);

        double seconds = throughput.stream().mapToDouble(SampleCurvatureScores.Throughput::seconds).sum();
        double forward = throughput.stream().mapToDouble(SampleCurvatureScores.Throughput::forwardSeconds).sum();
        double backward = throughput.stream().mapToDouble(SampleCurvatureScores.Throughput::backwardSeconds).sum();
        double perSecond = (double) positive.length * checkpointDirs.size() / seconds;
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("models", checkpointDirs.stream().map(Path::toString).toList());
        report.putAll(samples.report());
        report.put("draws", draws);
        report.put("step", step);
        report.put("auroc", auroc);
        report.put("samplesPerSecond", perSecond);
        report.put("forwardShare", forward / seconds);
        report.put("backwardShare", backward / seconds);
        report.put("seconds", seconds);
        report.put("scores", jsonl.toString());
        report.put("plots", pngs.stream().map(Path::toString).toList());
        StringBuilder t = new StringBuilder();
        t.append(String.format("input-curvature scores of %s at %d checkpoint(s), n = %d, h = %.0e, F64%n",
                samples.heading(), checkpointDirs.size(), draws, step));
        t.append(String.format("%-40s AUROC for %s%n", "score", samples.positiveName()));
        Map<String, String> names = Map.of("curvature", "curvature (1/n) Σ ‖Δ∇‖² (paper)",
                "curvatureNorm", "curvature (1/n) Σ ‖Δ∇‖ (official code)",
                "curvatureFinal", "curvature at the final checkpoint only", "finalLoss", "final loss",
                "meanLoss", "loss averaged over checkpoints", "csl", "cumulative sample loss (CSL)");
        auroc.forEach((k, v) -> t.append(String.format("%-40s %.4f%n", names.get(k), v)));
        t.append(String.format("%.1f %s/s (%d + 1 forward/backward passes each), forward %.0f %%, backward %.0f %% of "
                        + "%.1f s; scores in %s%n", perSecond, samples.noun(), draws, 100 * forward / seconds,
                100 * backward / seconds, seconds, jsonl));
        t.append("plots: ").append(String.join(", ", pngs.stream().map(Path::toString).toList())).append('\n');
        output.print(report, t.toString());
        return 0;
    }

    /** The training images of a vit-demo run, positives the flipped labels its noise.json records. */
    private Samples images(Path runFolder, Path finalModel, InputCurvature.Options options) throws IOException {
        Path noisePath = noiseFile != null ? noiseFile : runFolder.resolve("noise.json");
        NoiseRecord record = NoiseRecord.read(noisePath);
        int n = trainImages != null ? trainImages : record.images();
        ImageDataset train = ImageDataset.fashionMnist(data, "train").first(n);
        LabelNoise noise = LabelNoise.symmetric(train.labels(), train.classes(), record.rate(), record.seed());
        if (!Arrays.equals(noise.flipped(), record.flipped())) {
            throw new IllegalArgumentException(noisePath + ": its " + record.flipped().length + " flipped indices are "
                    + "not what rate " + record.rate() + " and seed " + record.seed() + " give on the first " + n
                    + " training images (" + noise.flipped().length + " flipped): wrong --train-images or --data?");
        }
        boolean[] flipped = new boolean[n];
        for (int i : noise.flipped()) {
            flipped[i] = true;
        }
        Map<String, double[]> baselines = new LinkedHashMap<>();
        Path cslFile = finalModel.resolve(SampleLosses.FILE);
        if (Files.isRegularFile(cslFile)) {
            baselines.put("csl", SampleLosses.read(cslFile, n).cumulative());
        }
        double[] csl = baselines.get("csl");
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("images", n);
        report.put("flipped", noise.flipped().length);
        report.put("noise", record.rate());
        int[] labels = noise.noisyLabels();
        int[] trueLabels = noise.trueLabels();
        return new Samples("images", "flipped labels", "clean", flipped,
                (model, progress) -> {
                    if (!(model instanceof VitModel vit)) {
                        throw new IllegalArgumentException("not a ViT: " + model.config().modelType());
                    }
                    return SampleCurvatureScores.images(vit, train, labels, options, batch, progress);
                },
                i -> "\"label\":" + labels[i] + ",\"trueLabel\":" + trueLabels[i] + ",\"flipped\":" + flipped[i]
                        + (csl != null ? ",\"csl\":" + csl[i] : ""),
                baselines, report, String.format("%d training images (%d flipped, %.0f %% noise)", n,
                        noise.flipped().length, 100 * record.rate()), new ImagePlot(train, labels, trueLabels));
    }

    /** Memorization samples (positives) and clean windows of the same length from text the model trained on. */
    private Samples windows(Path finalModel, ModelConfig config, InputCurvature.Options options) throws IOException {
        Path positiveFile = positives != null ? positives : finalModel.resolve("eval").resolve("canaries.jsonl");
        if (!Files.isRegularFile(positiveFile)) {
            throw new IllegalArgumentException("--positives: " + positiveFile + " not found (a JSONL of memorization "
                    + "samples, e.g. the workbench's eval/canaries.jsonl)");
        }
        if (negatives == null) {
            throw new IllegalArgumentException("--negatives FILE is required for a language model: clean text it "
                    + "trained on, e.g. the workbench's train-clean.txt");
        }
        Tokenizer tok = ModelOptions.tokenizer(finalModel, tokenizer, config.vocabSize());
        List<MemorizationSample> memorized = MemorizationSet.read(positiveFile);
        if (memorized.isEmpty()) {
            throw new IllegalArgumentException("--positives: " + positiveFile + " holds no samples");
        }
        List<int[]> windows = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        for (MemorizationSample s : memorized) {
            windows.add(tok.encode(s.text()));
            ids.add(s.id());
        }
        int time = windows.getFirst().length;
        int[] clean = TokenWindows.evenlySpaced(TextCorpus.read(negatives).tokens(tok), negativeWindows, time);
        int cleanCount = clean.length / time;
        for (int w = 0; w < cleanCount; w++) {
            windows.add(Arrays.copyOfRange(clean, w * time, (w + 1) * time));
            ids.add("clean-" + w);
        }
        boolean[] positive = new boolean[windows.size()];
        Arrays.fill(positive, 0, memorized.size(), true);
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("positives", memorized.size());
        report.put("positivesFile", positiveFile.toString());
        report.put("negatives", cleanCount);
        report.put("negativesFile", negatives.toString());
        report.put("windowTokens", time);
        return new Samples("windows", "memorized windows", "clean", positive,
                (model, progress) -> SampleCurvatureScores.windows(model, windows, options, batch, progress),
                i -> "\"id\":" + Json.write(ids.get(i)) + ",\"positive\":" + positive[i] + ",\"tokens\":"
                        + windows.get(i).length,
                Map.of(), report, String.format("%d memorized windows (%s) against %d clean windows of %d tokens (%s)",
                        memorized.size(), positiveFile.getFileName(), cleanCount, time, negatives.getFileName()),
                null);
    }

    /**
     * The checkpoints to score, in training order: --model as given, or a --run folder's snapshots and final model
     * (vit-demo: checkpoints/step-* and model; train: the sibling -snapshots/step-* and the folder itself).
     */
    private List<Path> checkpoints() throws IOException {
        if ((run == null) == (models == null)) {
            throw new IllegalArgumentException("give either --run (a vit-demo or train run folder) or --model "
                    + "(checkpoint directories), not " + (run == null ? "neither" : "both"));
        }
        if (models != null) {
            return models;
        }
        Path model;
        Path snapshots;
        if (Files.isDirectory(run.resolve("model"))) {
            model = run.resolve("model");
            snapshots = run.resolve(VitDemoCommand.CHECKPOINTS);
        } else if (Files.isRegularFile(run.resolve("trainer.json"))) {
            Path absolute = run.toAbsolutePath().normalize();
            model = absolute;
            snapshots = absolute.resolveSibling(absolute.getFileName() + "-snapshots");
        } else {
            throw new IllegalArgumentException("--run " + run + ": neither a vit-demo run (no model directory in it) "
                    + "nor a train checkpoint (no trainer.json)");
        }
        List<Path> all = new ArrayList<>();
        if (Files.isDirectory(snapshots)) {
            try (var list = Files.list(snapshots)) {
                list.filter(p -> p.getFileName().toString().matches("step-\\d+") && Files.isDirectory(p))
                        .sorted().forEach(all::add);
            }
        }
        all.add(model);
        return all;
    }

    /** One line per sample: its index, its kind's own fields, then the scores averaged over checkpoints. */
    private static void writeJsonl(Path file, Samples samples, SampleCurvatureScores.Scores mean, double[] finalLoss)
            throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        StringBuilder w = new StringBuilder();
        for (int i = 0; i < samples.positive().length; i++) {
            w.append("{\"index\":").append(i).append(',').append(samples.jsonFields().apply(i))
                    .append(",\"curvature\":").append(mean.squared()[i])
                    .append(",\"curvatureNorm\":").append(mean.norm()[i])
                    .append(",\"trace\":").append(mean.trace()[i])
                    .append(",\"finalLoss\":").append(finalLoss[i])
                    .append(",\"meanLoss\":").append(mean.loss()[i]).append("}\n");
        }
        OutputFiles.writeAtomically(file, w.toString().getBytes(StandardCharsets.UTF_8));
    }
}
