package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.kfac.BandActivation;
import dev.curvature.kfac.BandAnalysis;
import dev.curvature.kfac.CurvatureBand;
import dev.curvature.kfac.EigenbasisStore;
import dev.curvature.kfac.FactorStore;
import dev.curvature.kfac.LayerSelection;
import dev.curvature.transformer.data.TextCorpus;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.tokenizer.Tokenizer;
import dev.curvature.transformer.workbench.MemorizationSample;
import dev.curvature.transformer.workbench.MemorizationSet;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code curvature bands}: how strongly memorized data and clean text excite each curvature band of a layer. */
@Command(name = "bands", mixinStandardHelpOptions = true,
        description = {"Activation strength of memorized data in curvature bands, as a ratio against clean text "
                + "(paper §4).",
                "",
                "Per layer, the components u_i v_jᵀ of the weight in its K-FAC eigenbasis are ranked by curvature "
                        + "λ_i μ_j (descending, ties in (i, j) order) and cut into bands by rank: with the default "
                        + "edges, the top 10 %%, 10–25 %%, 25–50 %% and bottom 50 %% of the p·q components (band "
                        + "[a, b) = ranks ⌊a·pq⌋ to ⌊b·pq⌋ − 1). For every token position of a set, with x the "
                        + "layer's input there and C = U_Gᵀ W U_A, two statistics per band:",
                "  (a) ‖W_band x‖, W_band = U_G (C ⊙ M_band) U_Aᵀ, the band's part of the layer applied to x;",
                "  (b) sqrt(Σ_band (v_jᵀx)² / |band|), the RMS over the band's pairs of the component activation "
                        + "|v_jᵀx|.",
                "Each is averaged over positions; ratio = mean on the memorized set / mean on clean text (above 1: "
                        + "the memorized set excites the band more).",
                "",
                "The memorized set is the prompt + suffix text of each sample of the JSONL eval sets, every position "
                        + "tallied; clean text is cut into consecutive windows (default length: the longest "
                        + "memorized sample, so both sets cover the same positions). Use clean text the factors "
                        + "were not collected on. Prints a table on stderr; --json also prints the report as JSON on "
                        + "stdout."})
final class BandsCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @ArgGroup(exclusive = true, multiplicity = "1")
    EigenbasisSource source;

    @Option(names = "--layers", paramLabel = "PATTERNS",
            description = "Layers to analyse, comma-separated globs, e.g. 'h.3.mlp.*' (default: every layer in the "
                    + "factor or eigenbasis file).")
    String layers;

    @Option(names = "--memorized", required = true, arity = "1..*", paramLabel = "JSONL",
            description = "Memorization eval sets (JSONL of {\"prompt\", \"suffix\", \"source\", \"id\"}, as the "
                    + "workbench writes them, e.g. eval/canaries.jsonl); several files are one set, in the order "
                    + "given.")
    List<Path> memorized;

    @Option(names = "--clean", required = true, paramLabel = "FILE",
            description = "Clean text: plain UTF-8, or JSONL with one {\"text\": ...} per line (name ending in .jsonl).")
    Path clean;

    @Option(names = "--tokens", defaultValue = "65536", paramLabel = "N",
            description = "Positions tallied per set at most (default: ${DEFAULT-VALUE}; 0: all).")
    long tokens;

    @Option(names = "--window", paramLabel = "T",
            description = "Tokens per clean-text window (default: the longest memorized sample; at most n_positions).")
    Integer window;

    @Option(names = "--batch", defaultValue = "8", paramLabel = "B",
            description = "Sequences per forward pass (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--bands", defaultValue = "0,0.1,0.25,0.5,1", split = ",", paramLabel = "EDGES",
            description = "Band edges as fractions of the ranking, increasing from 0 to 1 (default: ${DEFAULT-VALUE}).")
    double[] edges;

    @Mixin
    ReportOutput output;

    @Override
    public Integer call() throws Exception {
        List<CurvatureBand> bands = CurvatureBand.fromEdges(edges);
        if (edges[0] != 0 || edges[edges.length - 1] != 1) {
            System.err.println("note: --bands " + java.util.Arrays.toString(edges) + " does not cover the whole ranking"
                    + " [0, 1]");
        }
        try (Backend backend = model.backend()) {
            Model lm = model.load(backend);
            try (FactorStore.Loaded loaded = source.readFactors(backend);
                 EigenbasisStore.Loaded bases = source.readEigenbases(backend)) {
                Path file = source.file();
                List<String> available = EigenbasisSource.layers(loaded, bases);
                List<String> chosen = available;
                if (layers != null) {
                    LayerSelection selection = LayerSelection.parse(layers);
                    chosen = selection.filter(available, lm.linearLayers());
                    if (chosen.isEmpty()) {
                        throw new IllegalArgumentException("--layers '" + layers + "' matches none of the layers in "
                                + file + " (" + String.join(", ", available) + ")");
                    }
                }
                Tokenizer tokenizer = model.tokenizer(lm.config().vocabSize());
                List<int[]> data = memorizedSequences(tokenizer, lm.config().contextLength());
                int[] cleanTokens = TextCorpus.read(clean).tokens(tokenizer);
                if (cleanTokens.length == 0) {
                    throw new IllegalArgumentException(clean + ": holds no tokens");
                }
                var options = new BandAnalysis.Options(bands, batch, window == null ? 0 : window, tokens);
                Map<String, ProgressLine> progress = new HashMap<>();
                BandAnalysis.Progress onProgress = (set, done, total, positions) -> progress
                        .computeIfAbsent(set, s -> new ProgressLine("bands " + s, "sequences"))
                        .update(done, total, positions);
                BandAnalysis.Report report = loaded != null
                        ? BandAnalysis.run(lm, loaded, chosen, data, cleanTokens, options, onProgress)
                        : BandAnalysis.run(lm, bases, chosen, data, cleanTokens, options, onProgress);
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("model", model.model.toString());
                out.put("source", file.toString());
                out.put("memorized", memorized.stream().map(Path::toString).toList());
                out.put("clean", clean.toString());
                out.put("report", report);
                output.print(out, table(report));
                return 0;
            } finally {
                lm.parameters().close();
            }
        }
    }

    /** prompt + suffix of every sample, tokenized; a sample longer than the context is an error naming it. */
    private List<int[]> memorizedSequences(Tokenizer tokenizer, int context) throws java.io.IOException {
        List<int[]> sequences = new ArrayList<>();
        for (Path file : memorized) {
            List<MemorizationSample> samples = MemorizationSet.read(file);
            if (samples.isEmpty()) {
                throw new IllegalArgumentException(file + ": holds no samples");
            }
            for (MemorizationSample sample : samples) {
                int[] ids = tokenizer.encode(sample.text());
                if (ids.length == 0 || ids.length > context) {
                    throw new IllegalArgumentException(file + ": sample " + sample.id() + " has " + ids.length
                            + " tokens (prompt + suffix); the model's context is " + context);
                }
                sequences.add(ids);
            }
        }
        return sequences;
    }

    /** The human summary: per layer and band, both statistics on each set and their ratio. */
    static String table(BandAnalysis.Report report) {
        StringBuilder s = new StringBuilder();
        s.append(String.format("clean windows of %d tokens%n", report.cleanWindow()));
        s.append(String.format("%-16s %-11s %9s | %-29s | %-29s%n", "", "", "", "(a) ‖W_band x‖",
                "(b) RMS |v_jᵀx| over pairs"));
        s.append(String.format("%-16s %-11s %9s | %9s %9s %9s | %9s %9s %9s%n", "layer", "band", "pairs", "memorized",
                "clean", "ratio", "memorized", "clean", "ratio"));
        for (BandAnalysis.LayerReport layer : report.layers()) {
            for (BandActivation.BandRatio r : layer.ratios()) {
                s.append(String.format("%-16s %-11s %9d | %9.4g %9.4g %9.4f | %9.4g %9.4g %9.4f%n", r.layer(),
                        r.label(), r.pairs(), r.dataOutputNorm(), r.cleanOutputNorm(), r.outputNormRatio(),
                        r.dataProjectionRms(), r.cleanProjectionRms(), r.projectionRmsRatio()));
            }
        }
        if (!report.layers().isEmpty()) {
            BandAnalysis.LayerReport first = report.layers().get(0);
            s.append(String.format("positions: memorized %d, clean %d%n", first.data().positions(),
                    first.clean().positions()));
        }
        return s.toString();
    }
}
