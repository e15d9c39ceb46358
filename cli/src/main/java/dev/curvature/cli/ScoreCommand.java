package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.kfac.score.Auroc;
import dev.curvature.kfac.score.SampleCurvatureScores;
import dev.curvature.kfac.score.InputCurvature;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.data.ImageDataset;
import dev.curvature.transformer.data.LabelNoise;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.train.SampleLosses;
import dev.curvature.transformer.vit.VitModel;
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

/**
 * {@code curvature score}: the per-sample input-curvature memorization score (Garg, Ravikumar, Roy 2024;
 * ALGORITHMS.md §2) of every training image of a vit-demo run, at one or more checkpoints, and how well it finds
 * the flipped labels (AUROC) beside the per-sample loss.
 */
@Command(name = "score", mixinStandardHelpOptions = true,
        description = {"Scores every training image of a vit-demo run by its input-loss curvature and reports the "
                + "AUROC of the score for the flipped (mislabelled) images, beside the per-sample loss.",
                "",
                "Curvature of image x with its training label: (1/n) Σ_i ‖∇ₓℓ(x + h·v_i) − ∇ₓℓ(x)‖² over n "
                        + "Rademacher vectors v_i (≈ h²·tr(H²), H the input Hessian of the image's own loss), in "
                        + "F64; also the official code's unsquared mean ‖Δ∇‖ and the trace estimate (1/n) Σ "
                        + "v_iᵀΔ∇/h ≈ tr(H). With several --model checkpoints the scores are averaged over them "
                        + "(the paper's score); the final loss is the last checkpoint's.",
                "",
                "Writes --out (JSONL, one line per image: index, label, trueLabel, flipped, curvature, "
                        + "curvatureNorm, trace, finalLoss, meanLoss and, from training, csl) and the two PNGs, and prints a table of AUROCs on stderr; "
                        + "--json prints the report on stdout."})
final class ScoreCommand implements Callable<Integer> {
    @Option(names = "--run", paramLabel = "DIR",
            description = "A vit-demo run folder: scores at every checkpoint it saved (<run>/checkpoints/step-*, "
                    + "then the final <run>/model), with its noise.json and the cumulative sample losses training "
                    + "recorded (<run>/model/" + SampleLosses.FILE + "). Give --run or --model.")
    Path run;

    @Option(names = "--model", split = ",", paramLabel = "DIR",
            description = "ViT checkpoint directories instead of --run, comma-separated, in training order; the last "
                    + "is the final one (its " + SampleLosses.FILE + ", if any, gives the CSL baseline).")
    List<Path> models;

    @Option(names = "--noise", paramLabel = "FILE",
            description = "The run's noise.json (default: beside the first --model directory).")
    Path noiseFile;

    @Option(names = "--data", paramLabel = "DIR", description = "Fashion-MNIST IDX directory (default: "
            + "/usr/share/datasets/fashion-mnist).")
    Path data = ImageDataset.FASHION_MNIST;

    @Option(names = "--train-images", paramLabel = "N",
            description = "Training images the run used, the first N of the training split (default: noise.json's "
                    + "\"images\").")
    Integer trainImages;

    @Option(names = "--draws", defaultValue = "10", paramLabel = "n",
            description = "Rademacher vectors per image (default: ${DEFAULT-VALUE}).")
    int draws;

    @Option(names = "--step", defaultValue = "1e-3", paramLabel = "h",
            description = "Finite-difference step (default: ${DEFAULT-VALUE}).")
    double step;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the Rademacher draws (default: "
            + "${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--batch", defaultValue = "64", description = "Images per pass (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--out", paramLabel = "FILE",
            description = "Per-image scores, JSONL (default: scores.jsonl in the run folder, the one holding the "
                    + "final model directory).")
    Path out;

    @Option(names = "--top", defaultValue = "32", paramLabel = "K",
            description = "Images in the top-k PNG (default: ${DEFAULT-VALUE}).")
    int top;

    @Option(names = "--plots", paramLabel = "DIR",
            description = "Where score-top.png (the K highest-curvature images, flipped ones framed red) and "
                    + "score-histogram.png (log10 curvature, flipped vs clean) go (default: the run folder).")
    Path plots;

    @Mixin
    BackendOptions compute;

    @Mixin
    ReportOutput output;

    @Override
    public Integer call() throws Exception {
        OptionRanges.require("--batch", batch, 1, Integer.MAX_VALUE);
        OptionRanges.require("--top", top, 0, Integer.MAX_VALUE);
        InputCurvature.Options options = new InputCurvature.Options(draws, step, seed);
        List<Path> checkpointDirs = checkpoints();
        Path runFolder = checkpointDirs.getLast().toAbsolutePath().getParent();
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
        Path jsonl = out != null ? out : runFolder.resolve("scores.jsonl");
        List<SampleCurvatureScores.Scores> perCheckpoint = new ArrayList<>();
        List<SampleCurvatureScores.Throughput> throughput = new ArrayList<>();
        try (Backend backend = compute.backend()) {
            for (Path dir : checkpointDirs) {
                Model model = ModelCheckpoints.load(backend, dir, DType.F64);
                try {
                    if (!(model instanceof VitModel vit)) {
                        throw new IllegalArgumentException("--model " + dir + " is a " + model.config().modelType()
                                + " checkpoint; score needs a ViT (vit-demo's <out>/model)");
                    }
                    ProgressLine progress = new ProgressLine("score " + dir.getFileName(), "images", "images");
                    SampleCurvatureScores.Result r = SampleCurvatureScores.images(vit, train, noise.noisyLabels(),
                            options, batch, (done, total) -> progress.update(done, total, done));
                    perCheckpoint.add(r.scores());
                    throughput.add(r.throughput());
                } finally {
                    model.parameters().close();
                }
            }
        }
        SampleCurvatureScores.Scores mean = SampleCurvatureScores.Scores.mean(perCheckpoint);
        double[] finalLoss = perCheckpoint.getLast().loss();
        boolean[] flipped = new boolean[n];
        for (int i : noise.flipped()) {
            flipped[i] = true;
        }
        Path cslFile = checkpointDirs.getLast().resolve(SampleLosses.FILE);
        double[] csl = Files.isRegularFile(cslFile) ? SampleLosses.read(cslFile, n).cumulative() : null;
        writeJsonl(jsonl, noise, flipped, mean, finalLoss, csl);
        Map<String, Double> auroc = new LinkedHashMap<>();
        auroc.put("curvature", Auroc.of(mean.squared(), flipped));
        auroc.put("curvatureNorm", Auroc.of(mean.norm(), flipped));
        if (checkpointDirs.size() > 1) {
            auroc.put("curvatureFinal", Auroc.of(perCheckpoint.getLast().squared(), flipped));
        }
        auroc.put("finalLoss", Auroc.of(finalLoss, flipped));
        if (checkpointDirs.size() > 1) {
            auroc.put("meanLoss", Auroc.of(mean.loss(), flipped));
        }
        if (csl != null) {
            auroc.put("csl", Auroc.of(csl, flipped));
        }
        Path plotFolder = plots != null ? plots : runFolder;
        Path topPng = plotFolder.resolve("score-top.png");
        Path histogramPng = plotFolder.resolve("score-histogram.png");
        Files.createDirectories(plotFolder);
        ScorePlots.topImages(topPng, String.format("the %d highest-curvature training images of %d (red: label "
                        + "flipped)", Math.min(top, n), n), train, ScorePlots.top(mean.squared(), top),
                noise.noisyLabels(), noise.trueLabels());
        ScorePlots.histogram(histogramPng, "input curvature (1/n) Σ ‖Δ∇‖², averaged over " + checkpointDirs.size()
                + " checkpoint(s)", mean.squared(), flipped, 40);
        double seconds = throughput.stream().mapToDouble(SampleCurvatureScores.Throughput::seconds).sum();
        double forward = throughput.stream().mapToDouble(SampleCurvatureScores.Throughput::forwardSeconds).sum();
        double backward = throughput.stream().mapToDouble(SampleCurvatureScores.Throughput::backwardSeconds).sum();
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("models", checkpointDirs.stream().map(Path::toString).toList());
        report.put("images", n);
        report.put("flipped", noise.flipped().length);
        report.put("noise", record.rate());
        report.put("draws", draws);
        report.put("step", step);
        report.put("auroc", auroc);
        report.put("imagesPerSecond", (double) n * checkpointDirs.size() / seconds);
        report.put("forwardShare", forward / seconds);
        report.put("backwardShare", backward / seconds);
        report.put("seconds", seconds);
        report.put("scores", jsonl.toString());
        report.put("plots", List.of(topPng.toString(), histogramPng.toString()));
        StringBuilder t = new StringBuilder();
        t.append(String.format("input-curvature scores of %d training images (%d flipped, %.0f %% noise) at %d "
                + "checkpoint(s), n = %d, h = %.0e, F64%n", n, noise.flipped().length, 100 * record.rate(),
                checkpointDirs.size(), draws, step));
        t.append(String.format("%-40s %s%n", "score", "AUROC for flipped labels"));
        Map<String, String> names = Map.of("curvature", "curvature (1/n) Σ ‖Δ∇‖² (paper)",
                "curvatureNorm", "curvature (1/n) Σ ‖Δ∇‖ (official code)",
                "curvatureFinal", "curvature at the final checkpoint only", "finalLoss", "final loss",
                "meanLoss", "loss averaged over checkpoints", "csl", "cumulative sample loss (CSL)");
        auroc.forEach((k, v) -> t.append(String.format("%-40s %.4f%n", names.get(k), v)));
        t.append(String.format("%.1f images/s (%d + 1 forward/backward passes each), forward %.0f %%, backward %.0f %%"
                        + " of %.1f s; scores in %s%n", (double) n * checkpointDirs.size() / seconds, draws,
                100 * forward / seconds, 100 * backward / seconds, seconds, jsonl));
        t.append(String.format("plots: %s, %s%n", topPng, histogramPng));
        output.print(report, t.toString());
        return 0;
    }

    /** The checkpoints to score, in training order: --model as given, or a --run folder's snapshots and model. */
    private List<Path> checkpoints() throws IOException {
        if ((run == null) == (models == null)) {
            throw new IllegalArgumentException("give either --run (a vit-demo run folder) or --model (checkpoint "
                    + "directories), not " + (run == null ? "neither" : "both"));
        }
        if (models != null) {
            return models;
        }
        Path model = run.resolve("model");
        if (!Files.isDirectory(model)) {
            throw new IllegalArgumentException("--run " + run + ": no model directory in it (vit-demo writes "
                    + "<out>/model)");
        }
        List<Path> all = new ArrayList<>();
        Path snapshots = run.resolve(VitDemoCommand.CHECKPOINTS);
        if (Files.isDirectory(snapshots)) {
            try (var list = Files.list(snapshots)) {
                list.filter(p -> p.getFileName().toString().matches("step-\\d+") && Files.isDirectory(p))
                        .sorted().forEach(all::add);
            }
        }
        all.add(model);
        return all;
    }

    /** One line per image; "csl" only when training recorded the cumulative sample losses. */
    private static void writeJsonl(Path file, LabelNoise noise, boolean[] flipped, SampleCurvatureScores.Scores mean,
                                   double[] finalLoss, double[] csl) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        StringBuilder w = new StringBuilder();
        for (int i = 0; i < flipped.length; i++) {
            w.append("{\"index\":" + i + ",\"label\":" + noise.noisyLabels()[i] + ",\"trueLabel\":"
                    + noise.trueLabels()[i] + ",\"flipped\":" + flipped[i] + ",\"curvature\":"
                    + mean.squared()[i] + ",\"curvatureNorm\":" + mean.norm()[i] + ",\"trace\":" + mean.trace()[i]
                    + ",\"finalLoss\":" + finalLoss[i] + ",\"meanLoss\":" + mean.loss()[i]
                    + (csl != null ? ",\"csl\":" + csl[i] : "") + "}\n");
        }
        OutputFiles.writeAtomically(file, w.toString().getBytes(StandardCharsets.UTF_8));
    }
}
