package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.kfac.BalancedSubnet;
import dev.curvature.kfac.LayerSelection;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.eval.BaselineComparison;
import dev.curvature.transformer.eval.RecitationEval;
import dev.curvature.transformer.model.CausalLm;
import dev.curvature.transformer.model.LinearLayer;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.tokenizer.ByteTokenizer;
import dev.curvature.transformer.train.TokenWindows;
import dev.curvature.transformer.workbench.MemorizationSample;
import dev.curvature.transformer.workbench.WorkbenchCorpus;
import dev.curvature.transformer.workbench.WorkbenchManifest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code curvature subnet}: the BalancedSubnet unlearning baseline on a workbench model, measured exactly as the demo
 * measures its edits.
 */
@Command(name = "subnet", mixinStandardHelpOptions = true,
        description = {"Runs the BalancedSubnet baseline (Sakarvadia et al.; ALGORITHMS.md §1.7) on a workbench model "
                + "and measures it as demo measures the K-FAC edit.",
                "",
                "Weights stay frozen; a score per weight of the chosen layers is learned by SGD with momentum on "
                        + "(1 − w)·CE(retain) − w·CE(forget), the mask dropping the --ratio fraction of each layer's "
                        + "weights of largest |score| (straight-through estimator). Forget set: the workbench's "
                        + "canaries (prompt + secret, every token scored), all of them every step; retain set: "
                        + "consecutive windows of the clean training split. For each --ratio the trained mask is "
                        + "applied and the model is measured like demo's variants (recitation of canaries, "
                        + "duplicated passages and held-out controls; held-out perplexity and nDCG@10 on the demo's "
                        + "held-out windows), then restored. Prints a table on stderr, writes <out>/table.txt and "
                        + "<out>/report.json; --json also prints the report on stdout."})
final class SubnetCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "DIR",
            description = "Memorizing model with workbench-manifest.json beside it (default: " + DemoCommand.BUNDLED_MODEL
                    + ").")
    Path model;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "runs/subnet",
            description = "Run folder (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--layers", paramLabel = "PATTERNS",
            description = "Layers to mask, comma-separated globs (default: every MLP projection of the last block, "
                    + "the demo's 'last block').")
    String layers;

    @Option(names = "--ratio", split = ",", defaultValue = "0.001,0.003,0.01,0.03", paramLabel = "R",
            description = "Fractions of each layer's weights to drop, comma-separated (default: ${DEFAULT-VALUE}; "
                    + "the paper searched 0.001–0.05).")
    List<Double> ratios;

    @Option(names = "--loss-weight", defaultValue = "0.7", paramLabel = "W",
            description = "Weight w of the forget (ascent) term (default: ${DEFAULT-VALUE}, the paper's best for 7B).")
    double lossWeight;

    @Option(names = "--lr", defaultValue = "0.3", description = "SGD learning rate (default: ${DEFAULT-VALUE}).")
    double learningRate;

    @Option(names = "--momentum", defaultValue = "0.9", description = "SGD momentum (default: ${DEFAULT-VALUE}).")
    double momentum;

    @Option(names = "--steps", defaultValue = "20",
            description = "Optimizer steps, each one epoch of the forget set (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--retain-batch", defaultValue = "8", paramLabel = "N",
            description = "Retain windows per step (default: ${DEFAULT-VALUE}).")
    int retainBatch;

    @Option(names = "--eval-tokens", defaultValue = "16384", paramLabel = "N",
            description = "Held-out tokens for perplexity and nDCG@10, as demo (default: ${DEFAULT-VALUE}).")
    int evalTokens;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the scores' tie-breaking noise (default: "
            + "${DEFAULT-VALUE}).")
    long seed;

    @Mixin
    BackendOptions compute;

    @Mixin
    ReportOutput output;

    @Override
    public Integer call() throws Exception {
        Path modelDir = model != null ? model : DemoCommand.bundledModel();
        OutputPaths.requireDistinct("--out", out, "model directory (--model)", modelDir);
        Files.createDirectories(out);
        try (Backend backend = compute.backend()) {
            WorkbenchManifest manifest = WorkbenchManifest.read(modelDir.resolve("workbench-manifest.json"));
            WorkbenchCorpus corpus = manifest.rebuild(manifest.source());
            Model loaded = ModelCheckpoints.load(backend, modelDir, DType.F32);
            try {
                if (!(loaded instanceof CausalLm lm) || loaded.config().vocabSize() != 256) {
                    throw new IllegalArgumentException(modelDir + " is not a byte-level causal language model");
                }
                return run(backend, lm, modelDir, corpus);
            } finally {
                loaded.parameters().close();
            }
        }
    }

    private int run(Backend backend, CausalLm lm, Path modelDir, WorkbenchCorpus corpus) throws Exception {
        ByteTokenizer bytes = new ByteTokenizer();
        int time = lm.config().contextLength();
        List<LinearLayer> mlp = lm.linearLayers().stream().filter(l -> l.role().isMlp()).toList();
        int last = lm.config().layers() - 1;
        List<String> chosen = layers != null ? LayerSelection.parse(layers).select(lm.linearLayers())
                : mlp.stream().filter(l -> l.block() == last).map(LinearLayer::name).toList();
        List<RecitationEval.Sample> samples = new ArrayList<>();
        DemoCommand.addSamples(samples, "canaries", corpus.canaries(), bytes);
        DemoCommand.addSamples(samples, "duplicates", corpus.duplicates(), bytes);
        DemoCommand.addSamples(samples, "heldout", corpus.heldoutControls(), bytes);
        int[] heldOut = TokenWindows.evenlySpaced(bytes.encode(corpus.heldout()), Math.max(1, evalTokens / time), time);
        BaselineComparison comparison = new BaselineComparison(lm, heldOut, time, 16, 10);
        DemoCommand.Evaluation baseline = new DemoCommand.Evaluation(
                RecitationEval.evaluate(lm, samples, samples.size()), comparison.baseline());
        List<int[]> forget = new ArrayList<>();
        for (MemorizationSample c : corpus.canaries()) {
            forget.add(bytes.encode(c.prompt() + c.suffix()));
        }
        int[] retain = bytes.encode(corpus.trainClean());

        List<Map<String, Object>> rows = new ArrayList<>();
        StringBuilder t = new StringBuilder(String.format("BalancedSubnet on %s: layers %s; loss weight %.2f, lr %.3g,"
                        + " momentum %.2f, %d steps (forget: %d canaries every step; retain: %d clean windows of %d "
                        + "per step)%n", modelDir, chosen, lossWeight, learningRate, momentum, steps, forget.size(),
                retainBatch, time));
        t.append(String.format("%-9s %9s | %-12s %5s | %-12s | %-12s | %7s %8s %7s | %s%n", "ratio", "dropped",
                "canaries", "TF", "duplicates", "held-out", "ppl", "Δppl", "nDCG@10", "CE forget / retain, first → "
                        + "last step"));
        t.append(row("unedited", 0, baseline, baseline)).append('\n');
        for (double ratio : ratios) {
            var options = new BalancedSubnet.Options(ratio, lossWeight, learningRate, momentum, steps, retainBatch,
                    seed);
            try (BalancedSubnet subnet = new BalancedSubnet(backend, lm, chosen, forget, retain, time, options)) {
                ProgressLine progress = new ProgressLine("subnet " + ratio, "steps");
                List<BalancedSubnet.Step> history = subnet.train(done -> progress.update(done, steps, 0));
                DemoCommand.Evaluation e;
                List<BalancedSubnet.LayerOutcome> outcome = subnet.outcome();
                try {
                    e = new DemoCommand.Evaluation(RecitationEval.evaluate(lm, samples, samples.size()),
                            comparison.evaluate(lm));
                } finally {
                    subnet.restore();
                }
                long dropped = outcome.stream().mapToLong(BalancedSubnet.LayerOutcome::dropped).sum();
                long total = outcome.stream().mapToLong(BalancedSubnet.LayerOutcome::total).sum();
                String losses = history.isEmpty() ? "-" : String.format("%.3f → %.3f / %.3f → %.3f",
                        history.get(0).forgetLoss(), history.get(history.size() - 1).forgetLoss(),
                        history.get(0).retainLoss(), history.get(history.size() - 1).retainLoss());
                t.append(row(String.valueOf(ratio), (double) dropped / total, e, baseline).stripTrailing())
                        .append(' ').append(losses).append('\n');
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("options", options);
                r.put("layers", outcome);
                r.put("history", history);
                r.put("evaluation", e);
                rows.add(r);
            }
        }
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("model", modelDir.toString());
        report.put("layers", chosen);
        report.put("baseline", baseline);
        report.put("runs", rows);
        Files.writeString(out.resolve("table.txt"), t.toString());
        Files.writeString(out.resolve("report.json"), Json.write(report) + "\n");
        output.print(report, t.toString());
        return 0;
    }

    private static String row(String ratio, double dropped, DemoCommand.Evaluation e, DemoCommand.Evaluation baseline) {
        Map<String, RecitationEval.Summary> by = e.recitation().bySource();
        double ppl = e.heldout().perplexity().perplexity();
        String rise = e == baseline ? "-" : String.format("%+.1f%%",
                100 * (ppl / baseline.heldout().perplexity().perplexity() - 1));
        return String.format("%-9s %8.3f%% | %-12s %5.3f | %-12s | %-12s | %7.3f %8s %7.3f |", ratio, 100 * dropped,
                DemoReport.counts(by.get("canaries")), by.get("canaries").teacherForcedAccuracy(), DemoReport.counts(by.get("duplicates")),
                DemoReport.counts(by.get("heldout")), ppl, rise, e.heldout().ndcg());
    }
}
