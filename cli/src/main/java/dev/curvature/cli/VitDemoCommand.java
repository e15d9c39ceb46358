package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.kfac.EditSweep;
import dev.curvature.kfac.KfacCollector;
import dev.curvature.kfac.LabelNoiseExperiment;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.data.ImageDataset;
import dev.curvature.transformer.data.LabelNoise;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.TokenRows;
import dev.curvature.transformer.train.ImageBatches;
import dev.curvature.transformer.train.ModelInitializer;
import dev.curvature.transformer.train.Trainer;
import dev.curvature.transformer.train.TrainingOptions;
import dev.curvature.transformer.vit.VitConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code curvature vit-demo}: the paper's ViT experiment at workbench scale — a vision transformer trained on
 * Fashion-MNIST with symmetric label noise, then the K-FAC edit of its first and last blocks' MLPs against SVD and
 * random controls at the same kept fraction.
 */
@Command(name = "vit-demo", mixinStandardHelpOptions = true,
        description = {"Trains a small vision transformer on Fashion-MNIST with noisy labels and removes the memorized "
                + "labels with the K-FAC edit, against SVD and random controls (paper §5, ViT).",
                "",
                "Steps: (1) read Fashion-MNIST (Debian dataset-fashion-mnist; bin/setup installs it), take the first "
                        + "--train-images training images and flip --noise of their labels to another class "
                        + "(seeded; the flipped indices go to <out>/noise.json); (2) train a ViT on them with AdamW "
                        + "(or load --model); (3) collect K-FAC factors over the training images (the CLS token "
                        + "only, the paper's choice, or --rows all); (4) edit the MLPs of the first and last blocks "
                        + "at each --rho with K-FAC, SVD truncation and random components at the same kept "
                        + "fraction; (5) report for each model: memorized = %% of the noisy training images still "
                        + "predicted with their noisy label, true label = %% of them predicted with their true "
                        + "label, test = clean test accuracy (all 10,000 test images), and clean train accuracy.",
                "",
                "Writes <out>/model (HF layout, with the cumulative sample losses of training in "
                        + "sample-losses.safetensors), <out>/checkpoints/step-* (--snapshots), noise.json, report.json, "
                        + "table.txt; prints the table on stderr, --json also prints the report on stdout. "
                        + "`curvature score --run <out>` then scores every training image at those checkpoints."})
final class VitDemoCommand implements Callable<Integer> {
    /** The run folder's subdirectory of model snapshots taken during training, one {@code step-NNNNNN} each. */
    static final String CHECKPOINTS = "checkpoints";

    @Option(names = "--data", paramLabel = "DIR", description = "Fashion-MNIST IDX directory (default: "
            + "/usr/share/datasets/fashion-mnist).")
    Path data = ImageDataset.FASHION_MNIST;

    @Option(names = "--train-images", defaultValue = "5000", paramLabel = "N",
            description = "Training images, the first N of the training split (default: ${DEFAULT-VALUE}).")
    int trainImages;

    @Option(names = "--noise", defaultValue = "0.1", paramLabel = "RATE",
            description = "Share of training labels flipped to another class (default: ${DEFAULT-VALUE}).")
    double noise;

    @Option(names = "--model", paramLabel = "DIR", description = "A ViT trained before (by this command, whose "
            + "--out/model it is, with the same --train-images, --noise and --seed); skips training.")
    Path model;

    @Option(names = "--width", defaultValue = "64", description = "Hidden size (default: ${DEFAULT-VALUE}).")
    int width;

    @Option(names = "--layers", defaultValue = "4", description = "Blocks (default: ${DEFAULT-VALUE}).")
    int layers;

    @Option(names = "--heads", defaultValue = "4", description = "Attention heads (default: ${DEFAULT-VALUE}).")
    int heads;

    @Option(names = "--patch", defaultValue = "7", description = "Patch side; divides 28 (default: ${DEFAULT-VALUE}).")
    int patch;

    @Option(names = "--steps", defaultValue = "7000", description = "Training steps (default: ${DEFAULT-VALUE}).")
    long steps;

    @Option(names = "--batch", defaultValue = "64", description = "Images per step (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--snapshots", defaultValue = "5", paramLabel = "N",
            description = "Models kept from training for `score` to average over: at steps k·steps/N for k = 1 … N − 1 "
                    + "in <out>/checkpoints/step-NNNNNN, and the final <out>/model (default: ${DEFAULT-VALUE}).")
    int snapshots;

    @Option(names = "--lr", defaultValue = "1e-3", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    double learningRate;

    @Option(names = "--rho", split = ",", defaultValue = "0.75", paramLabel = "ρ",
            description = "Curvature-mass fractions to keep (default: ${DEFAULT-VALUE}, the paper's ViT setting).")
    List<Double> rho;

    @Option(names = "--rows", defaultValue = "cls", paramLabel = "cls|all",
            description = "Factor rows: the CLS token of each image (the paper's choice) or all tokens "
                    + "(default: ${DEFAULT-VALUE}).")
    String rows;

    @Option(names = "--labels", defaultValue = "SAMPLED", paramLabel = "GOLD|SAMPLED",
            description = "Labels of the factor gradients: SAMPLED from the model (true Fisher) or GOLD (the noisy "
                    + "training labels). Default: ${DEFAULT-VALUE}.")
    KfacCollector.Labels labels;

    @Option(names = "--seed", defaultValue = "1", description = "Noise, initialisation, data order and sampling seed "
            + "(default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", paramLabel = "DIR", description = "Run folder (default: runs/vit-demo).")
    Path out = Path.of("runs", "vit-demo");

    @Mixin
    BackendOptions compute;

    @Mixin
    ReportOutput output;

    @Override
    public Integer call() throws Exception {
        long start = System.nanoTime();
        OptionRanges.require("--snapshots", snapshots, 1, 1000);
        TokenRows factorRows = switch (rows) {
            case "cls" -> TokenRows.LABELLED;
            case "all" -> TokenRows.ALL;
            default -> throw new IllegalArgumentException("--rows must be cls or all, got '" + rows + "'");
        };
        ImageDataset train = ImageDataset.fashionMnist(data, "train").first(trainImages);
        ImageDataset test = ImageDataset.fashionMnist(data, "t10k");
        LabelNoise labelNoise = LabelNoise.symmetric(train.labels(), train.classes(), noise, seed);
        Files.createDirectories(out);
        NoiseRecord.of(labelNoise, trainImages).write(out.resolve("noise.json"));
        Map<String, Double> seconds = new LinkedHashMap<>();
        try (Backend backend = compute.backend()) {
            Model vit;
            long t0 = System.nanoTime();
            if (model != null) {
                vit = ModelCheckpoints.load(backend, model, DType.F32);
            } else {
                vit = train(backend, train, labelNoise);
                seconds.put("train", (System.nanoTime() - t0) / 1e9);
            }
            try {
                VitConfig config = (VitConfig) vit.config();
                int last = config.layers() - 1;
                List<String> mlp = new ArrayList<>();
                for (int l : last == 0 ? new int[]{0} : new int[]{0, last}) {
                    mlp.add(VitConfig.block(l, "intermediate.dense"));
                    mlp.add(VitConfig.block(l, "output.dense"));
                }
                List<EditSweep.LayerSet> sets = List.of(new EditSweep.LayerSet("first+last MLP", mlp));
                List<EditSweep.Budget> budgets = rho.stream().map(EditSweep.Budget::mass).toList();
                t0 = System.nanoTime();
                ProgressLine progress = new ProgressLine("edits", "variants");
                LabelNoiseExperiment.Result result = LabelNoiseExperiment.run(backend, vit, train, labelNoise, test,
                        sets, budgets, factorRows, labels, seed, 256,
                        (done, total, variant) -> progress.update(done, total, 0));
                seconds.put("factors, edits and evaluation", (System.nanoTime() - t0) / 1e9);
                seconds.put("total", (System.nanoTime() - start) / 1e9);
                String table = table(config, result, seconds);
                Files.writeString(out.resolve("table.txt"), table);
                Map<String, Object> report = new LinkedHashMap<>();
                report.put("model", config);
                report.put("trainImages", trainImages);
                report.put("noise", noise);
                report.put("flipped", labelNoise.flipped().length);
                report.put("factorRows", result.factorRows());
                report.put("rows", rows);
                report.put("labels", labels);
                report.put("baseline", result.baseline());
                report.put("variants", result.variants());
                report.put("seconds", seconds);
                Files.writeString(out.resolve("report.json"), Json.write(report) + "\n");
                output.print(report, table);
                return 0;
            } finally {
                vit.parameters().close();
            }
        }
    }

    private Model train(Backend backend, ImageDataset images, LabelNoise labelNoise) throws IOException {
        VitConfig config = VitConfig.of(width, layers, heads, 2 * width, images.rows(), patch, 1, images.classes());
        ParameterSet weights = ParameterSet.allocate(backend, config, DType.F32);
        ModelInitializer.initialize(weights, seed);
        Model vit = config.model(backend, weights);
        TrainingOptions options = new TrainingOptions(batch, config.contextLength(), 1, steps, learningRate,
                learningRate / 10, Math.min(100, steps / 10), 0.05, 0.9, 0.999, 1e-8, 1.0, seed);
        ImageBatches data = new ImageBatches(images, labelNoise.noisyLabels(), config.contextLength(), seed);
        System.err.printf("training a ViT (%d blocks, width %d, %d heads, %d patches of %d², %,d parameters) on %d "
                        + "images (%d labels flipped) for %d steps of %d%n", config.layers(), config.hiddenSize(),
                config.heads(), config.patches(), config.patchSize(), weights.count(), images.size(),
                labelNoise.flipped().length, steps, batch);
        Path snapshotFolder = out.resolve(CHECKPOINTS);
        OutputFiles.deleteRecursively(snapshotFolder);       // snapshots of an earlier run are not this run's
        try (Trainer trainer = new Trainer(vit, data, options).trackSampleLosses()
                .keepSnapshots(snapshotFolder, Trainer.evenSnapshotSteps(steps, snapshots))) {
            ProgressLine progress = new ProgressLine("train", "steps", "images");
            trainer.train(report -> progress.update(report.step(), steps, report.step() * batch), out.resolve("model"),
                    1000);
        }
        return vit;
    }

    private String table(VitConfig config, LabelNoiseExperiment.Result result, Map<String, Double> seconds) {
        StringBuilder t = new StringBuilder();
        t.append(String.format("K-FAC edit of a ViT trained on %d Fashion-MNIST images with %.0f %% symmetric label "
                        + "noise (%d blocks, width %d); factors over %s rows of the training images (%,d rows, %s "
                        + "labels)%n", trainImages, 100 * noise, config.layers(), config.hiddenSize(),
                rows.equals("cls") ? "the CLS token" : "all tokens", result.factorRows(), labels.name().toLowerCase()));
        t.append("memorized = noisy training images predicted with their noisy label; true label = the same images "
                + "predicted with their true label; test = clean test accuracy; clean train = the other training "
                + "images, true labels\n\n");
        String header = String.format("%-16s %-6s %-7s %6s | %9s %10s %7s %11s%n", "layer set", "method", "budget",
                "kept", "memorized", "true label", "test", "clean train");
        t.append(header).append("-".repeat(header.length() - 1)).append('\n');
        t.append(row("unedited", "-", "-", 1.0, result.baseline()));
        for (var v : result.variants()) {
            t.append(row(v.layerSet(), v.method() == EditSweep.Method.KFAC ? "K-FAC" : v.method() == EditSweep.Method.SVD
                    ? "SVD" : "random", v.budget().toString(), v.keptFraction(), v.evaluation()));
        }
        t.append(String.format("%ntime: %s%n", seconds.entrySet().stream().map(e -> String.format("%s %.1f s",
                e.getKey(), e.getValue())).reduce((a, b) -> a + ", " + b).orElse("")));
        return t.toString();
    }

    private static String row(String set, String method, String budget, double kept, LabelNoiseExperiment.Scores s) {
        return String.format("%-16s %-6s %-7s %5.1f%% | %8.1f%% %9.1f%% %6.1f%% %10.1f%%%n", set, method, budget,
                100 * kept, 100 * s.memorized(), 100 * s.trueLabel(), 100 * s.testAccuracy(),
                100 * s.cleanTrainAccuracy());
    }
}
