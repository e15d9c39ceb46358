package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.engine.CovariancePrecision;
import dev.curvature.kfac.FactorCollection;
import dev.curvature.kfac.FactorStore;
import dev.curvature.kfac.KfacCollector;
import dev.curvature.kfac.EditDefaults;
import dev.curvature.kfac.LayerSelection;
import dev.curvature.kfac.MemoryPlan;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.data.TextCorpus;
import dev.curvature.transformer.model.LinearLayer;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.ModelConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.LongSummaryStatistics;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code curvature collect}: K-FAC factors of a model over a corpus. */
@Command(name = "collect", mixinStandardHelpOptions = true,
        description = {"Collects K-FAC factors A = Σ x xᵀ and G = Σ g gᵀ per layer over a corpus.",
                "",
                "The corpus is cut into consecutive windows of --time tokens; the last position of each window "
                        + "has no next token and is not counted. g is the gradient of the SUMMED cross-entropy with "
                        + "respect to the layer output. Sums and counts are written (never means), so shards merge "
                        + "exactly. Output: a safetensors file with a JSON description. Prints a summary (file, "
                        + "layers, tokens, positions, mean loss) on stderr; --json also prints it as JSON on stdout. "
                        + "Progress on stderr.",
                "",
                "A memory plan (parameters, activations, every factor, scratch) is printed first, from config.json "
                        + "alone; a run that does not fit the available memory is refused before anything is loaded "
                        + "(--memory-limit, --dry-run)."})
final class CollectCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Option(names = "--corpus", required = true, arity = "1..*", paramLabel = "FILE",
            description = "Plain text, or JSONL with one {\"text\": ...} per line (name ending in .jsonl). Several "
                    + "files are collected as separate shards added in the order given — bit for bit what merging "
                    + "per-file shards collected elsewhere gives.")
    List<Path> corpus;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "Factor file to write (.safetensors).")
    Path out;

    @Option(names = "--layers", paramLabel = "PATTERNS",
            description = "Comma-separated globs over layer names, or 'mlp': every MLP projection of the model (by role: "
                    + "GPT-2 c_fc and c_proj; Llama/OLMo-2 gate_proj, up_proj and down_proj). Default: GPT-2 'mlp'; "
                    + "Llama/OLMo-2 gate_proj, up_proj and down_proj of the blocks the edit defaults to (paper §5.1).")
    String layers;

    @Option(names = "--labels", paramLabel = "GOLD|SAMPLED",
            description = "GOLD: the next tokens (empirical Fisher). SAMPLED: drawn from the model's softmax (true "
                    + "Fisher), seeded by --seed. Default: GOLD for gpt2; SAMPLED for llama and olmo2 (the paper's "
                    + "setting, §5.1).")
    KfacCollector.Labels labels;

    @Option(names = "--seed", defaultValue = "0", description = "Seed for sampled labels (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--batch", defaultValue = "8", description = "Windows per batch (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--time", paramLabel = "T", description = "Tokens per window (default: min(context, 256) for "
            + "gpt2; min(context, 512) for llama and olmo2, the paper's windows).")
    Integer time;

    @Option(names = "--max-tokens", defaultValue = "0", paramLabel = "N",
            description = "Read at most N tokens of the corpus (default: all).")
    long maxTokens;

    @Option(names = "--checkpoint-every", defaultValue = "1000000", paramLabel = "TOKENS",
            description = "Write <out>.partial every TOKENS tokens (default: ${DEFAULT-VALUE}; 0: never). If "
                    + "<out>.partial of the same run exists, collection resumes from it with no token lost or counted "
                    + "twice; it is deleted when the run completes.")
    long checkpointEvery;

    @Option(names = "--exact", description = "Accumulate in exact float64 (audit mode) instead of float32 batches "
            + "folded into float64 sums (implied by --dtype F64).")
    boolean exact;

    @Option(names = "--ekfac-moments", description = "Also accumulate EK-FAC's one-pass moments Σ‖a‖² g gᵀ and "
            + "Σ‖g‖² a aᵀ over the same positions, stored in the factor file (<layer>.G_by_a_norm, "
            + "<layer>.A_by_g_norm); ekfac compares the approximation they give with its exact pass. One --corpus "
            + "file only.")
    boolean ekfacMoments;

    @Mixin
    MemoryOptions memory;

    @Mixin
    ReportOutput output;

    @Override
    public Integer call() throws Exception {
        OptionRanges.require("--batch", batch, 1, 1 << 20);
        OptionRanges.require("--max-tokens", maxTokens, 0, Long.MAX_VALUE);
        OptionRanges.require("--checkpoint-every", checkpointEvery, 0, Long.MAX_VALUE);
        if (model.compute.threads != null) {
            OptionRanges.require("--threads", model.compute.threads, 1, BackendOptions.maxThreads());
        }
        requireOutputsDistinct();
        try (OutputFiles.Lock lock = OutputFiles.lock(out)) {
            OutputFiles.cleanLeftovers(out);
            return collect();
        }
    }

    private Integer collect() throws Exception {
        ModelConfig config = ModelCheckpoints.readMatchingConfig(model.model);
        EditDefaults defaults = EditDefaults.of(config);
        if ((labels == null || time == null || layers == null) && defaults.describeCollect() != null) {
            System.err.println(defaults.describeCollect());
        }
        String layerPatterns = layers != null ? layers : defaults.collectLayers();
        KfacCollector.Labels labelMode = labels != null ? labels : defaults.labels();
        int window = time != null ? time : defaults.time();
        if (window < 2 || window > config.contextLength()) {
            throw new IllegalArgumentException("--time " + window + " must be in [2, " + config.contextLength()
                    + "] (the model's context)");
        }
        if (batch < 1) {
            throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
        }
        // float64 activations are summed exactly: --dtype F64 is the audit run, and its description says so
        CovariancePrecision precision = exact || model.computeDtype() == dev.curvature.engine.DType.F64
                ? CovariancePrecision.F64_EXACT : CovariancePrecision.F32_WITH_F64_SUMS;
        List<String> names = LayerSelection.parse(layerPatterns).select(config.linearLayers());
        List<LinearLayer> selected = config.linearLayers().stream().filter(l -> names.contains(l.name())).toList();
        MemoryPlan plan = MemoryPlan.collection(config, model.computeDtype(), batch, window, selected, precision,
                model.threads());
        if (memory.stopAfter(plan, "reduce --batch, --time or --layers")) {
            return 0;
        }
        try (Backend backend = model.backend()) {
            Model loaded = model.load(backend);
            try {
                var tokenizer = model.tokenizer(loaded.config().vocabSize());
                List<int[]> parts = new java.util.ArrayList<>();
                for (Path file : corpus) {
                    int[] ids = TextCorpus.read(file).tokens(tokenizer);
                    long usable = maxTokens > 0 ? Math.min(ids.length, maxTokens) : ids.length;
                    if (usable < window) {
                        throw new IllegalArgumentException("--corpus " + file + " has " + ids.length + " tokens"
                                + (usable < ids.length ? " (" + usable + " within --max-tokens)" : "")
                                + ", fewer than one window of --time " + window);
                    }
                    parts.add(ids);
                }
                var options = new FactorCollection.Options(layerPatterns, labelMode, seed, batch, window, maxTokens,
                        precision, checkpointEvery, model.tokenizerDigest(tokenizer), ekfacMoments);
                ProgressLine progress = new ProgressLine("collect", "windows");
                FactorCollection.Result result = FactorCollection.runParts(loaded, parts, options, out,
                        progress::update);
                Map<String, Object> report = new LinkedHashMap<>();
                report.put("factors", out.toString());
                report.put("meanLoss", result.meanLoss());
                report.put("description", result.description());
                output.print(report, summary(out, result.description())
                        + String.format("mean loss %.4f (cross-entropy of the %s labels, batches collected in this "
                        + "run)%n", result.meanLoss(), labelMode));
                return 0;
            } finally {
                loaded.parameters().close();
            }
        }
    }

    /** --out, its checkpoint and its per-corpus shards must not be (or be inside) the model, a corpus or the tokenizer. */
    private void requireOutputsDistinct() throws java.io.IOException {
        Map<String, List<Path>> inputs = new LinkedHashMap<>();
        inputs.put("model directory (--model)", List.of(model.model));
        inputs.put("corpus (--corpus)", corpus);
        inputs.put("tokenizer (--tokenizer)", model.tokenizerFile() == null ? List.of() : List.of(model.tokenizerFile()));
        OutputPaths.requireDistinct("--out", out, inputs);
        OutputPaths.requireDistinct("--out", FactorCollection.checkpointOf(out), inputs);
        for (int i = 0; i < corpus.size() && corpus.size() > 1; i++) {
            OutputPaths.requireDistinct("--out", FactorCollection.shardOf(out, i), inputs);
        }
    }

    /** What a factor file holds, in two lines: layers, tokens, positions, labels (also used by merge). */
    static String summary(Path file, FactorStore.Description d) {
        List<String> names = d.layers().stream().map(FactorStore.Layer::name).toList();
        String layerNames = names.size() <= 4 ? String.join(", ", names)
                : names.get(0) + ", …, " + names.get(names.size() - 1);
        LongSummaryStatistics positions = d.layers().stream().mapToLong(FactorStore.Layer::positions)
                .summaryStatistics();
        String perLayer = positions.getMin() == positions.getMax() ? String.valueOf(positions.getMin())
                : positions.getMin() + "–" + positions.getMax();
        return String.format("factors: %s%n%d layers (%s); %d tokens, %s positions per layer, %s labels%n", file,
                names.size(), layerNames, d.tokens(), perLayer, d.labels());
    }
}
