package dev.curvature.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.curvature.engine.Backend;
import dev.curvature.kfac.CurvatureMassSelection;
import dev.curvature.kfac.EigenbasisStore;
import dev.curvature.kfac.EkfacStore;
import dev.curvature.kfac.FactorStore;
import dev.curvature.kfac.EditDefaults;
import dev.curvature.kfac.LayerSelection;
import dev.curvature.kfac.MemoryPlan;
import dev.curvature.kfac.ModelEditor;
import dev.curvature.transformer.checkpoint.HaltPoint;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.ModelConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code curvature edit}: the K-FAC curvature edit of chosen layers, written as a new checkpoint. */
@Command(name = "edit", mixinStandardHelpOptions = true,
        description = {"Keeps the high-curvature components of chosen layers; writes the edited model.",
                "",
                "Per layer, W is expressed in the eigenbasis of its factors, C = U_Gᵀ W U_A; the pairs (i, j) "
                        + "with the largest λ_i μ_j that hold a fraction ρ of the total curvature mass are kept (or, "
                        + "with --ablate, removed), and W' = U_G (C ⊙ M) U_Aᵀ is rebuilt in float64. ρ = 1 leaves a "
                        + "layer as it is. Writes <out>/config.json and the weights in the layout of the input (Hugging "
                        + "Face: one model.safetensors, or the same shards and model.safetensors.index.json), in its "
                        + "storage dtype unless --save-dtype, and <out>/edit-report.json; --out must not be the input "
                        + "directory. Prints a table on stderr; --json also prints the report as JSON on stdout.",
                "",
                "--curvature ekfac ranks the pairs by EK-FAC's corrected eigenvalues Λ_ij (--ekfac, from the ekfac "
                        + "command) instead of λ_i μ_j and keeps those holding ρ of ΣΛ; 'mass kept' is then Σ_S Λ / ΣΛ.",
                "",
                "A memory plan is printed first, from config.json and the file headers; a run that does not fit is "
                        + "refused before anything is loaded (--memory-limit, --dry-run)."})
final class EditCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @picocli.CommandLine.ArgGroup(exclusive = true, multiplicity = "1")
    EigenbasisSource source;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Directory for the edited model.")
    Path out;

    @Option(names = "--layers", paramLabel = "PATTERNS",
            description = "Layers to edit, comma-separated globs, or 'mlp' for every MLP projection of the model. "
                    + "Default for gpt2: mlp. Default for llama and olmo2 (the paper's setting, §5.1): gate_proj and "
                    + "up_proj of blocks 23-25 with 32 blocks (OLMo-2 7B), 13-15 with 16 (OLMo-2 1B), else the three "
                    + "blocks from round(0.72·L); down_proj untouched.")
    String layers;

    @Option(names = "--rho", paramLabel = "ρ",
            description = "Fraction of curvature mass to keep, in [0, 1] (default: 0.9 for gpt2, 0.6 for llama and "
                    + "olmo2, the paper's).")
    Double rho;

    @Option(names = "--rho-config", paramLabel = "FILE",
            description = "JSON {\"layer\": ρ, ...} of per-layer ρ; overrides --rho and --layers.")
    Path rhoConfig;

    @Option(names = "--ablate", description = "Remove the selected top-curvature components instead of keeping them.")
    boolean ablate;

    @Option(names = "--save-dtype", paramLabel = "F32|BF16|F16|F64",
            description = "dtype of the written weights (default: the dtype of the input checkpoint). The shards "
                    + "of a sharded input are kept either way.")
    dev.curvature.engine.DType saveDtype;

    @Option(names = "--rule", defaultValue = "mass", paramLabel = "mass|ranks",
            description = "mass: the pairs with the largest λ_i μ_j holding ρ of the curvature mass (the paper's "
                    + "rule). ranks: keep the top r_G × r_A eigenvector block, r_A the fewest A-eigenvalues holding "
                    + "--rho-a of ΣA, r_G likewise with --rho-g. Default: ${DEFAULT-VALUE}.")
    String rule;

    @Option(names = "--curvature", defaultValue = "kfac", paramLabel = "kfac|ekfac",
            description = "Which curvature ranks the components: kfac, the products λ_i μ_j; ekfac, the corrected "
                    + "eigenvalues Λ_ij of --ekfac (pairs of largest Λ_ij until Σ_S Λ ≥ ρ ΣΛ, by a full sort; only "
                    + "with --rule mass). Default: ${DEFAULT-VALUE}.")
    String curvature;

    @Option(names = "--ekfac", paramLabel = "FILE",
            description = "Corrected eigenvalues from the ekfac command, rotated into this very eigenbasis (checked "
                    + "by digest); needed by --curvature ekfac.")
    Path ekfac;

    @Option(names = "--rho-a", defaultValue = "0.9", paramLabel = "ρA",
            description = "ranks rule: variance fraction of A to keep (default: ${DEFAULT-VALUE}).")
    double rhoA;

    @Option(names = "--rho-g", defaultValue = "0.9", paramLabel = "ρG",
            description = "ranks rule: variance fraction of G to keep (default: ${DEFAULT-VALUE}).")
    double rhoG;

    @Mixin
    MemoryOptions memory;

    @Mixin
    ReportOutput output;

    @Override
    public Integer call() throws Exception {
        Map<String, List<Path>> inputs = new LinkedHashMap<>();
        inputs.put("model directory (--model)", List.of(model.model));
        inputs.put(source.isFactors() ? "factors (--factors)" : "eigenbases (--eigenbases)", List.of(source.file()));
        inputs.put("ρ config (--rho-config)", rhoConfig == null ? List.of() : List.of(rhoConfig));
        inputs.put("EK-FAC eigenvalues (--ekfac)", ekfac == null ? List.of() : List.of(ekfac));
        inputs.put("tokenizer (--tokenizer)", model.tokenizerFile() == null ? List.of() : List.of(model.tokenizerFile()));
        OutputPaths.requireDistinct("--out", out, inputs);
        try (OutputFiles.Lock lock = OutputFiles.lock(out)) {
            OutputFiles.cleanLeftovers(out);
            HaltPoint.reach("output.locked");
            return edit();
        }
    }

    /**
     * The per-layer ρ of a --rho-config file: strict JSON (duplicate keys and trailing content refused), one object
     * of at least one "layer": number in [0, 1]; every error names the file and the field.
     */
    static Map<String, Double> readRhoConfig(Path file) throws java.io.IOException {
        dev.curvature.transformer.data.InputFiles.requireRegular(file, 16L << 20);
        com.fasterxml.jackson.databind.JsonNode root;
        try {
            root = new ObjectMapper().enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
                    .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                    .readTree(Files.readAllBytes(file));
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IllegalArgumentException("--rho-config " + file + " is not valid JSON: "
                    + e.getOriginalMessage().replaceAll("\\s+", " "));
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("--rho-config " + file + " must be a JSON object {\"layer\": ρ, ...}");
        }
        if (root.isEmpty()) {
            throw new IllegalArgumentException("--rho-config " + file + " names no layer ({}): nothing would be "
                    + "edited; give {\"layer\": ρ, ...}");
        }
        Map<String, Double> out = new LinkedHashMap<>();
        for (var it = root.fields(); it.hasNext(); ) {
            var e = it.next();
            if (!e.getValue().isNumber() || !(e.getValue().doubleValue() >= 0 && e.getValue().doubleValue() <= 1)) {
                throw new IllegalArgumentException("--rho-config " + file + ": \"" + e.getKey() + "\" must be a "
                        + "number in [0, 1], found " + e.getValue());
            }
            out.put(e.getKey(), e.getValue().doubleValue());
        }
        return out;
    }

    private Integer edit() throws Exception {
        Map<String, Double> rhoFromFile = rhoConfig != null ? readRhoConfig(rhoConfig) : null;   // before any work
        ModelConfig config = ModelCheckpoints.readMatchingConfig(model.model);
        EditDefaults defaults = EditDefaults.of(config);
        double keep = rho != null ? rho : defaults.rho();
        String patterns = layers != null ? layers : defaults.layers();
        List<FactorStore.Layer> sourceLayers = source.headerLayers();
        List<String> available = sourceLayers.stream().map(FactorStore.Layer::name).toList();
        Map<String, Double> rhoByLayer = new LinkedHashMap<>();
        if (rhoConfig != null) {
            rhoByLayer.putAll(rhoFromFile);
        } else {
            if ((layers == null || rho == null) && defaults.describeEdit() != null) {
                System.err.println(defaults.describeEdit());
            }
            if (layers == null && defaults.paper()) {
                List<String> missing = java.util.Arrays.stream(patterns.split(","))
                        .filter(name -> !available.contains(name)).toList();
                if (!missing.isEmpty()) {
                    throw new IllegalArgumentException(source.file() + " has no factors for the default layers "
                            + missing + "; collect them (collect --layers " + patterns + ") or pass --layers");
                }
            }
            for (String layer : LayerSelection.parse(patterns).select(available, config.linearLayers())) {
                rhoByLayer.put(layer, keep);
            }
        }
        ModelCheckpoints.Layout stored = ModelCheckpoints.layout(model.model);
        ModelCheckpoints.Layout layout = saveDtype != null ? new ModelCheckpoints.Layout(saveDtype, stored.shards())
                : stored;
        MemoryPlan plan = MemoryPlan.edit(config, model.computeDtype(), layout.storage(), sourceLayers,
                source.isFactors(), new java.util.ArrayList<>(rhoByLayer.keySet()));
        if (memory.stopAfter(plan, "edit fewer layers, or give --eigenbases for fewer layers")) {
            return 0;
        }
        var mode = ablate ? CurvatureMassSelection.Mode.ABLATE : CurvatureMassSelection.Mode.KEEP;
        ModelEditor.Rule selectionRule = switch (rule) {
            case "mass" -> ModelEditor.Rule.mass(mode);
            case "ranks" -> ModelEditor.Rule.ranks(rhoG, rhoA, ablate);
            default -> throw new IllegalArgumentException("--rule must be mass or ranks, got '" + rule + "'");
        };
        boolean corrected = switch (curvature) {
            case "kfac" -> false;
            case "ekfac" -> true;
            default -> throw new IllegalArgumentException("--curvature must be kfac or ekfac, got '" + curvature + "'");
        };
        if (corrected && (ekfac == null || !rule.equals("mass"))) {
            throw new IllegalArgumentException("--curvature ekfac needs --ekfac FILE (from the ekfac command) and "
                    + "--rule mass");
        }
        if (!corrected && ekfac != null) {
            throw new IllegalArgumentException("--ekfac " + ekfac + " is used only with --curvature ekfac");
        }
        try (Backend backend = model.backend()) {
            Model loaded = model.load(backend);
            try (FactorStore.Loaded factors = source.readFactors(backend);
                 EigenbasisStore.Loaded bases = source.readEigenbases(backend)) {
                ProgressLine progress = new ProgressLine("edit", "layers");
                int[] done = {0};
                java.util.function.Consumer<ModelEditor.LayerResult> onLayer = r -> {
                    HaltPoint.reach("edit.layer");   // crash tests: edited weights in memory only
                    progress.update(++done[0], rhoByLayer.size(), 0);
                };
                List<ModelEditor.LayerResult> results;
                if (corrected) {
                    try (EkfacStore.Loaded lambda = EkfacStore.read(backend, ekfac)) {
                        results = factors != null
                                ? ModelEditor.editCorrected(backend, loaded, factors, lambda, rhoByLayer, mode, onLayer)
                                : ModelEditor.editCorrected(backend, loaded, bases, lambda, rhoByLayer, mode, onLayer);
                    }
                } else {
                    results = factors != null
                            ? ModelEditor.edit(backend, loaded, factors, rhoByLayer, selectionRule, onLayer)
                            : ModelEditor.edit(backend, loaded, bases, rhoByLayer, selectionRule, onLayer);
                }
                Map<String, Object> report = new LinkedHashMap<>();
                report.put("model", model.model.toString());
                report.put("source", String.valueOf(source.file()));
                report.put("curvature", corrected ? "ekfac " + ekfac : "kfac");
                report.put("layers", results);
                // the whole directory or nothing: an existing --out holds the old edit or this one, never a mixture
                OutputFiles.replaceDirectory(out, dir -> {
                    ModelCheckpoints.save(loaded, dir, layout, Map.of("curvature.edit", (corrected
                            ? "ekfac " + mode : selectionRule) + " " + rhoByLayer));
                    OutputFiles.writeAtomically(dir.resolve("edit-report.json"),
                            Json.write(report).getBytes(java.nio.charset.StandardCharsets.UTF_8));
                });
                int width = Math.max(18, results.stream().mapToInt(r -> r.edit().layer().length()).max().orElse(0));
                StringBuilder table = new StringBuilder(String.format("%-" + width + "s %6s %12s %10s %9s %9s%n",
                        "layer", "ρ", "kept pairs", "mass kept", "ΔW/W", "U_G/U_A"));
                for (ModelEditor.LayerResult r : results) {
                    table.append(String.format("%-" + width + "s %6.3f %11.4f%% %10.4f %9.4f %4d/%-4d%n",
                            r.edit().layer(), r.rho(), 100 * r.edit().keptFraction(), r.edit().massKept(),
                            r.edit().relativeChange(), r.edit().gEigenvectorsUsed(), r.edit().aEigenvectorsUsed()));
                }
                String files = layout.shards() == null ? "model.safetensors"
                        : new java.util.TreeSet<>(layout.shards().values()).size() + " shards + "
                        + "model.safetensors.index.json";
                table.append(String.format("edited model: %s (config.json, %s in %s, edit-report.json)%n", out, files,
                        layout.storage()));
                output.print(report, table.toString());
                return 0;
            } finally {
                loaded.parameters().close();
            }
        }
    }
}
