package dev.curvature.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.curvature.engine.Backend;
import dev.curvature.kfac.CurvatureMassSelection;
import dev.curvature.kfac.EigenbasisStore;
import dev.curvature.kfac.FactorStore;
import dev.curvature.kfac.LayerSelection;
import dev.curvature.kfac.ModelEditor;
import dev.curvature.transformer.gpt2.Gpt2Checkpoints;
import dev.curvature.transformer.gpt2.Gpt2Model;
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
                        + "layer as it is. Writes <out>/config.json and <out>/model.safetensors (Hugging Face "
                        + "layout) and <out>/edit-report.json. Prints a table on stderr; --json also prints the report as "
                        + "JSON on stdout."})
final class EditCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @picocli.CommandLine.ArgGroup(exclusive = true, multiplicity = "1")
    EigenbasisSource source;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Directory for the edited model.")
    Path out;

    @Option(names = "--layers", defaultValue = LayerSelection.DEFAULT, paramLabel = "PATTERNS",
            description = "Layers to edit, comma-separated globs, or 'mlp' for every MLP projection of the model "
                    + "(default: ${DEFAULT-VALUE}).")
    String layers;

    @Option(names = "--rho", defaultValue = "0.9", paramLabel = "ρ",
            description = "Fraction of curvature mass to keep, in [0, 1] (default: ${DEFAULT-VALUE}).")
    double rho;

    @Option(names = "--rho-config", paramLabel = "FILE",
            description = "JSON {\"layer\": ρ, ...} of per-layer ρ; overrides --rho and --layers.")
    Path rhoConfig;

    @Option(names = "--ablate", description = "Remove the selected top-curvature components instead of keeping them.")
    boolean ablate;

    @Option(names = "--save-dtype", paramLabel = "F32|BF16|F16|F64",
            description = "dtype of the written weights (default: the dtype of the input checkpoint).")
    dev.curvature.engine.DType saveDtype;

    @Option(names = "--rule", defaultValue = "mass", paramLabel = "mass|ranks",
            description = "mass: the pairs with the largest λ_i μ_j holding ρ of the curvature mass (the paper's "
                    + "rule). ranks: keep the top r_G × r_A eigenvector block, r_A the fewest A-eigenvalues holding "
                    + "--rho-a of ΣA, r_G likewise with --rho-g. Default: ${DEFAULT-VALUE}.")
    String rule;

    @Option(names = "--rho-a", defaultValue = "0.9", paramLabel = "ρA",
            description = "ranks rule: variance fraction of A to keep (default: ${DEFAULT-VALUE}).")
    double rhoA;

    @Option(names = "--rho-g", defaultValue = "0.9", paramLabel = "ρG",
            description = "ranks rule: variance fraction of G to keep (default: ${DEFAULT-VALUE}).")
    double rhoG;

    @Mixin
    ReportOutput output;

    @Override
    public Integer call() throws Exception {
        try (Backend backend = model.backend()) {
            Gpt2Model gpt2 = model.load(backend);
            try (FactorStore.Loaded loaded = source.readFactors(backend);
                 EigenbasisStore.Loaded bases = source.readEigenbases(backend)) {
                List<String> available = EigenbasisSource.layers(loaded, bases);
                Map<String, Double> rhoByLayer = new LinkedHashMap<>();
                if (rhoConfig != null) {
                    Map<?, ?> config = new ObjectMapper().readValue(Files.readString(rhoConfig), Map.class);
                    config.forEach((k, v) -> rhoByLayer.put(String.valueOf(k), ((Number) v).doubleValue()));
                } else {
                    for (String layer : LayerSelection.parse(layers).select(available, gpt2.linearLayers())) {
                        rhoByLayer.put(layer, rho);
                    }
                }
                var mode = ablate ? CurvatureMassSelection.Mode.ABLATE : CurvatureMassSelection.Mode.KEEP;
                ModelEditor.Rule selectionRule = switch (rule) {
                    case "mass" -> ModelEditor.Rule.mass(mode);
                    case "ranks" -> ModelEditor.Rule.ranks(rhoG, rhoA, ablate);
                    default -> throw new IllegalArgumentException("--rule must be mass or ranks, got '" + rule + "'");
                };
                ProgressLine progress = new ProgressLine("edit", "layers");
                int[] done = {0};
                java.util.function.Consumer<ModelEditor.LayerResult> onLayer = r -> progress.update(++done[0],
                        rhoByLayer.size(), 0);
                List<ModelEditor.LayerResult> results = loaded != null
                        ? ModelEditor.edit(backend, gpt2, loaded, rhoByLayer, selectionRule, onLayer)
                        : ModelEditor.edit(backend, gpt2, bases, rhoByLayer, selectionRule, onLayer);
                var dtype = saveDtype != null ? saveDtype : Gpt2Checkpoints.storedDtype(model.model);
                Gpt2Checkpoints.save(gpt2, out, dtype, Map.of("curvature.edit", selectionRule + " " + rhoByLayer));
                Map<String, Object> report = new LinkedHashMap<>();
                report.put("model", model.model.toString());
                report.put("source", String.valueOf(source.file()));
                report.put("layers", results);
                Files.writeString(out.resolve("edit-report.json"), Json.write(report));
                StringBuilder table = new StringBuilder(String.format("%-18s %6s %12s %10s %9s %9s%n", "layer", "ρ",
                        "kept pairs", "mass kept", "ΔW/W", "U_G/U_A"));
                for (ModelEditor.LayerResult r : results) {
                    table.append(String.format("%-18s %6.3f %11.4f%% %10.4f %9.4f %4d/%-4d%n", r.edit().layer(),
                            r.rho(), 100 * r.edit().keptFraction(), r.edit().massKept(), r.edit().relativeChange(),
                            r.edit().gEigenvectorsUsed(), r.edit().aEigenvectorsUsed()));
                }
                table.append(String.format("edited model: %s (config.json, model.safetensors, edit-report.json)%n",
                        out));
                output.print(report, table.toString());
                return 0;
            } finally {
                gpt2.weights().close();
            }
        }
    }
}
