package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.kfac.CorrectedEigenvalues;
import dev.curvature.kfac.EigenbasisStore;
import dev.curvature.kfac.EkfacAgreement;
import dev.curvature.kfac.EkfacPass;
import dev.curvature.kfac.EkfacStore;
import dev.curvature.kfac.FactorEigenbasis;
import dev.curvature.kfac.FactorStore;
import dev.curvature.kfac.KfacCollector;
import dev.curvature.kfac.LayerSelection;
import dev.curvature.kfac.OnePassMoments;
import dev.curvature.transformer.data.TextCorpus;
import dev.curvature.transformer.model.Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code curvature ekfac}: EK-FAC's corrected eigenvalues in the K-FAC eigenbasis, by a second pass over a corpus. */
@Command(name = "ekfac", mixinStandardHelpOptions = true,
        description = {"Computes EK-FAC's corrected eigenvalues Λ_ij = E_n[(U_Gᵀ ∇_W ℓ_n U_A)_ij²] in the K-FAC "
                + "eigenbasis of each layer by a second pass over a corpus; edit --curvature ekfac ranks components "
                + "by them.",
                "",
                "The corpus is cut into consecutive windows of --time tokens as collect cuts it; with the factors' own "
                        + "corpus, labels, seed, window and batch (the defaults) the pass draws the labels the factors "
                        + "were collected with. --granularity SEQUENCE squares the per-window weight gradient "
                        + "Σ_t g_t a_tᵀ (kronfluence's per-example gradient); TOKEN squares each counted position's "
                        + "g_t a_tᵀ (the factors' own expectation). Writes float64 sums and counts with a JSON "
                        + "description naming the eigenbasis (its factors' description and a digest of each layer's "
                        + "U_G and U_A), so shards add exactly and an edit refuses another eigenbasis.",
                "",
                "When the factor file was collected with collect --ekfac-moments (or --moments names one that was), "
                        + "also prints how close the one-pass approximation Λ̂_ij = r_i c_j / s (exact row and column "
                        + "marginals of the token-level Λ, from Σ‖a‖² g gᵀ and Σ‖g‖² a aᵀ) and K-FAC's λ_i μ_j are to "
                        + "the Λ of this pass: relative error after normalizing to unit sum, overlap of the top 25 %% "
                        + "of pairs, and the share of ΣΛ those pairs hold. Prints a summary on stderr; --json also "
                        + "prints the report as JSON on stdout."})
final class EkfacCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @picocli.CommandLine.ArgGroup(exclusive = true, multiplicity = "1")
    EigenbasisSource source;

    @Option(names = "--corpus", required = true, paramLabel = "FILE",
            description = "Plain text, or JSONL with one {\"text\": ...} per line (name ending in .jsonl).")
    Path corpus;

    @Option(names = "--out", required = true, paramLabel = "FILE",
            description = "Corrected-eigenvalue file to write (.safetensors).")
    Path out;

    @Option(names = "--layers", paramLabel = "PATTERNS",
            description = "Comma-separated globs over the layers of the factors/eigenbases (default: all of them).")
    String layers;

    @Option(names = "--granularity", defaultValue = "SEQUENCE", paramLabel = "SEQUENCE|TOKEN",
            description = "What one sample is: a window (per-window gradient) or a counted position (default: "
                    + "${DEFAULT-VALUE}).")
    CorrectedEigenvalues.Granularity granularity;

    @Option(names = "--labels", paramLabel = "GOLD|SAMPLED",
            description = "Labels of the loss (default: those of the factors).")
    KfacCollector.Labels labels;

    @Option(names = "--seed", description = "Seed of sampled labels (default: the factors').")
    Long seed;

    @Option(names = "--batch", description = "Windows per batch (default: the factors', else 8).")
    Integer batch;

    @Option(names = "--time", paramLabel = "T", description = "Tokens per window (default: the factors').")
    Integer time;

    @Option(names = "--max-tokens", paramLabel = "N",
            description = "Read at most N tokens of the corpus (default: the factors' budget, 0 = all).")
    Long maxTokens;

    @Option(names = "--moments", paramLabel = "FILE",
            description = "Factor file holding the one-pass moments to compare with (default: the --factors file, "
                    + "when it holds them).")
    Path moments;

    @Mixin
    ReportOutput output;

    @Override
    public Integer call() throws Exception {
        Map<String, List<Path>> inputs = new LinkedHashMap<>();
        inputs.put("model directory (--model)", List.of(model.model));
        inputs.put("corpus (--corpus)", List.of(corpus));
        inputs.put(source.isFactors() ? "factors (--factors)" : "eigenbases (--eigenbases)", List.of(source.file()));
        inputs.put("moments (--moments)", moments == null ? List.of() : List.of(moments));
        OutputPaths.requireDistinct("--out", out, inputs);
        try (OutputFiles.Lock lock = OutputFiles.lock(out)) {
            OutputFiles.cleanLeftovers(out);
            return run();
        }
    }

    private Integer run() throws Exception {
        try (Backend backend = model.backend()) {
            Model loaded = model.load(backend);
            Map<String, FactorEigenbasis> bases = new LinkedHashMap<>();
            try (FactorStore.Loaded factors = source.readFactors(backend);
                 EigenbasisStore.Loaded stored = source.readEigenbases(backend)) {
                FactorStore.Description description = factors != null ? factors.description() : stored.factors();
                List<String> available = EigenbasisSource.layers(factors, stored);
                List<String> chosen = layers == null ? available
                        : LayerSelection.parse(layers).select(available, loaded.linearLayers());
                for (String layer : chosen) {
                    bases.put(layer, factors != null ? FactorEigenbasis.of(backend, factors.factors().get(layer))
                            : stored.bases().get(layer));
                }
                FactorStore.Collection collection = description.collection();
                int window = time != null ? time : collection != null ? collection.time()
                        : Math.min(256, loaded.config().contextLength());
                int windowsPerBatch = batch != null ? batch : collection != null ? collection.batch() : 8;
                long budget = maxTokens != null ? maxTokens : collection != null ? collection.maxTokens() : 0;
                OptionRanges.require("--batch", windowsPerBatch, 1, 1 << 20);
                OptionRanges.require("--max-tokens", budget, 0, Long.MAX_VALUE);
                var options = new EkfacPass.Options(labels != null ? labels
                        : KfacCollector.Labels.valueOf(description.labels()), seed != null ? seed : description.seed(),
                        windowsPerBatch, window, budget, granularity);
                int[] tokens = TextCorpus.read(corpus).tokens(model.tokenizer(loaded.config().vocabSize()));
                ProgressLine progress = new ProgressLine("ekfac", "windows");
                EkfacPass.Result result = EkfacPass.run(loaded, tokens, bases, description, options, out,
                        progress::update);
                Map<String, Object> report = new LinkedHashMap<>();
                report.put("ekfac", out.toString());
                report.put("meanLoss", result.meanLoss());
                report.put("description", result.description());
                StringBuilder text = new StringBuilder(String.format("EK-FAC eigenvalues: %s%n%d layers; %d tokens "
                                + "in windows of %d, %s granularity, %s labels; mean loss %.4f%n", out,
                        chosen.size(), result.description().tokens(), window, granularity, options.labels(),
                        result.meanLoss()));
                Path momentFile = moments != null ? moments : source.isFactors() ? source.file() : null;
                if (momentFile != null) {
                    text.append(compareOnePass(backend, momentFile, bases, out, report));
                }
                output.print(report, text.toString());
                return 0;
            } finally {
                if (source.isFactors()) {
                    bases.values().forEach(FactorEigenbasis::close);
                }
                loaded.parameters().close();
            }
        }
    }

    /** The table of one-pass Λ̂ and K-FAC λμ against the Λ just written; empty when the file holds no moments. */
    private static String compareOnePass(Backend backend, Path momentFile, Map<String, FactorEigenbasis> bases,
                                         Path exactFile, Map<String, Object> report) throws java.io.IOException {
        FactorStore.Description description;
        try (FactorStore.Loaded f = FactorStore.read(backend, momentFile)) {
            description = f.description();
        }
        try (OnePassMoments m = OnePassMoments.read(backend, momentFile, description);
             EkfacStore.Loaded exact = EkfacStore.read(backend, exactFile)) {
            if (m == null) {
                return "";
            }
            StringBuilder t = new StringBuilder(String.format("%none-pass approximation (moments of %s) and K-FAC "
                    + "against this Λ, both normalized to unit sum; top = the 25%% of pairs of largest value%n", momentFile));
            int width = Math.max(18, bases.keySet().stream().mapToInt(String::length).max().orElse(0));
            t.append(String.format("%-" + width + "s | %-29s | %-29s | %s%n", "layer", "one-pass Λ̂: error  top∩  ΣΛ",
                    "K-FAC λμ:   error  top∩  ΣΛ", "ΣΛ of Λ's own top"));
            List<Map<String, Object>> rows = new ArrayList<>();
            for (Map.Entry<String, FactorEigenbasis> e : bases.entrySet()) {
                String layer = e.getKey();
                long positions = description.layers().stream().filter(l -> l.name().equals(layer))
                        .mapToLong(FactorStore.Layer::positions).findFirst().orElse(0);
                if (!m.layers().containsKey(layer) || positions == 0) {
                    continue;
                }
                CorrectedEigenvalues.Layer values = exact.eigenvalues().layer(layer);
                double[] lambda = values.mean();
                EkfacAgreement onePass = EkfacAgreement.of(lambda, m.approximate(layer, e.getValue(), positions),
                        values.dOut(), values.dIn(), 0.25);
                EkfacAgreement kfac = EkfacAgreement.of(lambda, EkfacAgreement.kfacProducts(e.getValue()),
                        values.dOut(), values.dIn(), 0.25);
                t.append(String.format("%-" + width + "s |        %6.3f %5.3f %5.3f |        %6.3f %5.3f %5.3f | %5.3f%n",
                        layer, onePass.relativeError(), onePass.topOverlap(), onePass.massCaptured(),
                        kfac.relativeError(), kfac.topOverlap(), kfac.massCaptured(), onePass.bestMass()));
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("layer", layer);
                row.put("onePass", onePass);
                row.put("kfac", kfac);
                rows.add(row);
            }
            report.put("onePassAgreement", rows);
            return t.toString();
        }
    }
}
