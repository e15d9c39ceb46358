package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.kfac.score.Auroc;
import dev.curvature.kfac.score.ImageCurvatureScores;
import dev.curvature.kfac.score.InputCurvature;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.data.ImageDataset;
import dev.curvature.transformer.data.LabelNoise;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.vit.VitModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.BufferedWriter;
import java.io.IOException;
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
                        + "curvatureNorm, trace, finalLoss, meanLoss) and prints a table of AUROCs on stderr; "
                        + "--json prints the report on stdout."})
final class ScoreCommand implements Callable<Integer> {
    @Option(names = "--model", split = ",", required = true, paramLabel = "DIR",
            description = "ViT checkpoint directories (vit-demo's <out>/model), comma-separated; the last is the "
                    + "final one.")
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
            description = "Per-image scores, JSONL (default: scores.jsonl beside the first --model directory).")
    Path out;

    @Mixin
    BackendOptions compute;

    @Mixin
    ReportOutput output;

    @Override
    public Integer call() throws Exception {
        OptionRanges.require("--batch", batch, 1, Integer.MAX_VALUE);
        InputCurvature.Options options = new InputCurvature.Options(draws, step, seed);
        Path runFolder = models.getFirst().toAbsolutePath().getParent();
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
        List<ImageCurvatureScores.Scores> perCheckpoint = new ArrayList<>();
        List<ImageCurvatureScores.Throughput> throughput = new ArrayList<>();
        try (Backend backend = compute.backend()) {
            for (Path dir : models) {
                Model model = ModelCheckpoints.load(backend, dir, DType.F64);
                try {
                    if (!(model instanceof VitModel vit)) {
                        throw new IllegalArgumentException("--model " + dir + " is a " + model.config().modelType()
                                + " checkpoint; score needs a ViT (vit-demo's <out>/model)");
                    }
                    ProgressLine progress = new ProgressLine("score " + dir.getFileName(), "images");
                    ImageCurvatureScores.Result r = ImageCurvatureScores.score(vit, train, noise.noisyLabels(),
                            options, batch, (done, total) -> progress.update(done, total, done));
                    perCheckpoint.add(r.scores());
                    throughput.add(r.throughput());
                } finally {
                    model.parameters().close();
                }
            }
        }
        ImageCurvatureScores.Scores mean = ImageCurvatureScores.Scores.mean(perCheckpoint);
        double[] finalLoss = perCheckpoint.getLast().loss();
        boolean[] flipped = new boolean[n];
        for (int i : noise.flipped()) {
            flipped[i] = true;
        }
        writeJsonl(jsonl, noise, flipped, mean, finalLoss);
        Map<String, Double> auroc = new LinkedHashMap<>();
        auroc.put("curvature", Auroc.of(mean.squared(), flipped));
        auroc.put("curvatureNorm", Auroc.of(mean.norm(), flipped));
        auroc.put("finalLoss", Auroc.of(finalLoss, flipped));
        if (models.size() > 1) {
            auroc.put("meanLoss", Auroc.of(mean.loss(), flipped));
        }
        double seconds = throughput.stream().mapToDouble(ImageCurvatureScores.Throughput::seconds).sum();
        double forward = throughput.stream().mapToDouble(ImageCurvatureScores.Throughput::forwardSeconds).sum();
        double backward = throughput.stream().mapToDouble(ImageCurvatureScores.Throughput::backwardSeconds).sum();
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("models", models.stream().map(Path::toString).toList());
        report.put("images", n);
        report.put("flipped", noise.flipped().length);
        report.put("noise", record.rate());
        report.put("draws", draws);
        report.put("step", step);
        report.put("auroc", auroc);
        report.put("imagesPerSecond", (double) n * models.size() / seconds);
        report.put("forwardShare", forward / seconds);
        report.put("backwardShare", backward / seconds);
        report.put("seconds", seconds);
        report.put("scores", jsonl.toString());
        StringBuilder t = new StringBuilder();
        t.append(String.format("input-curvature scores of %d training images (%d flipped, %.0f %% noise) at %d "
                + "checkpoint(s), n = %d, h = %.0e, F64%n", n, noise.flipped().length, 100 * record.rate(),
                models.size(), draws, step));
        t.append(String.format("%-40s %s%n", "score", "AUROC for flipped labels"));
        Map<String, String> names = Map.of("curvature", "curvature (1/n) Σ ‖Δ∇‖² (paper)",
                "curvatureNorm", "curvature (1/n) Σ ‖Δ∇‖ (official code)", "finalLoss", "final loss",
                "meanLoss", "loss averaged over checkpoints");
        auroc.forEach((k, v) -> t.append(String.format("%-40s %.4f%n", names.get(k), v)));
        t.append(String.format("%.1f images/s (%d + 1 forward/backward passes each), forward %.0f %%, backward %.0f %%"
                        + " of %.1f s; scores in %s%n", (double) n * models.size() / seconds, draws,
                100 * forward / seconds, 100 * backward / seconds, seconds, jsonl));
        output.print(report, t.toString());
        return 0;
    }

    private static void writeJsonl(Path file, LabelNoise noise, boolean[] flipped, ImageCurvatureScores.Scores mean,
                                   double[] finalLoss) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        try (BufferedWriter w = Files.newBufferedWriter(file)) {
            for (int i = 0; i < flipped.length; i++) {
                w.write("{\"index\":" + i + ",\"label\":" + noise.noisyLabels()[i] + ",\"trueLabel\":"
                        + noise.trueLabels()[i] + ",\"flipped\":" + flipped[i] + ",\"curvature\":"
                        + mean.squared()[i] + ",\"curvatureNorm\":" + mean.norm()[i] + ",\"trace\":" + mean.trace()[i]
                        + ",\"finalLoss\":" + finalLoss[i] + ",\"meanLoss\":" + mean.loss()[i] + "}\n");
            }
        }
    }
}
