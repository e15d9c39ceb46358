package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.engine.CpuBackend;
import dev.curvature.kfac.EigenbasisStore;
import dev.curvature.kfac.FactorEigenbasis;
import dev.curvature.kfac.FactorStore;
import dev.curvature.kfac.KroneckerFactors;
import dev.curvature.kfac.MemoryPlan;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code curvature spectrum}: eigendecompositions of the factors and their numerical quality. */
@Command(name = "spectrum", mixinStandardHelpOptions = true,
        description = {"Eigendecomposes the factors and reports spectra and numerical quality.",
                "",
                "A/n and G/n of every layer are decomposed in float64 (LAPACK dsyevd). For each: the leading "
                        + "eigenvalues, the trace, the residual ‖AV−VΛ‖/‖A‖, the orthogonality ‖VᵀV−I‖/√n and the "
                        + "negative eigenvalues clipped to 0. Prints a table on stderr; --json also prints the "
                        + "report (with the leading eigenvalues) as JSON on stdout. Progress "
                        + "on stderr. A memory plan is printed first (stderr); a run that does not fit is refused "
                        + "before anything is read (--memory-limit, --dry-run)."})
final class SpectrumCommand implements Callable<Integer> {
    @Option(names = "--factors", required = true, paramLabel = "FILE", description = "Factor file from collect/merge.")
    Path factors;

    @Option(names = "--plot", paramLabel = "PNG",
            description = "Also draw the spectra (log eigenvalue vs index, G and A of every layer) to this PNG file.")
    Path plot;

    @Option(names = "--eigenbases", paramLabel = "FILE",
            description = "Also store the eigenbases (λ, U_G, μ, U_A per layer, float64) for edit --eigenbases.")
    Path eigenbases;

    @Option(names = "--top", defaultValue = "32", paramLabel = "K",
            description = "Eigenvalues listed per factor in the JSON (default: ${DEFAULT-VALUE}; -1: all).")
    int top;

    @Mixin
    MemoryOptions memory;

    @Mixin
    ReportOutput output;

    @Override
    public Integer call() throws Exception {
        OutputPaths.requireDistinct("--eigenbases", eigenbases, "factors (--factors)", factors);
        OutputPaths.requireDistinct("--plot", plot, "factors (--factors)", factors);
        OutputPaths.requireDistinct("--plot", plot, "eigenbases (--eigenbases)", eigenbases);
        MemoryPlan plan = MemoryPlan.spectrum(EigenbasisSource.factorLayers(factors), eigenbases != null);
        if (memory.stopAfter(plan, eigenbases != null ? "collect fewer layers, or leave out --eigenbases"
                : "collect fewer layers")) {
            return 0;
        }
        List<Map<String, Object>> layers = new ArrayList<>();
        Map<String, double[]> spectra = SpectrumPlot.newSpectra();
        try (OutputFiles.Lock lock = eigenbases != null ? OutputFiles.lock(eigenbases) : null;
             Backend backend = new CpuBackend(); FactorStore.Loaded loaded = FactorStore.read(backend, factors)) {
            if (eigenbases != null) {
                OutputFiles.cleanLeftovers(eigenbases);
            }
            StringBuilder table = new StringBuilder(String.format("%-18s %6s %12s %10s %10s %9s%n", "factor", "n",
                    "λ max", "residual", "orthog.", "negative"));
            List<FactorEigenbasis> kept = new ArrayList<>();
            ProgressLine progress = new ProgressLine("spectrum", "layers");
            for (KroneckerFactors f : loaded.factors().values()) {
                FactorEigenbasis basis = FactorEigenbasis.of(backend, f);
                try {
                    Map<String, Object> entry = new LinkedHashMap<>();
                    entry.put("layer", f.layer());
                    entry.put("positions", f.positions());
                    entry.put("G", factor(basis.gradientEigenvalues(), basis.gradientQuality()));
                    entry.put("A", factor(basis.activationEigenvalues(), basis.activationQuality()));
                    layers.add(entry);
                    spectra.put(f.layer() + " G", basis.gradientEigenvalues());
                    spectra.put(f.layer() + " A", basis.activationEigenvalues());
                    for (var q : List.of(basis.gradientQuality(), basis.activationQuality())) {
                        double[] values = q == basis.gradientQuality() ? basis.gradientEigenvalues()
                                : basis.activationEigenvalues();
                        table.append(String.format("%-18s %6d %12.4e %10.2e %10.2e %9d%n", q.tensorName(), q.n(),
                                values[0], q.residual(), q.orthogonality(), q.negativeCount()));
                    }
                    progress.update(layers.size(), loaded.factors().size(), 0);
                } finally {
                    if (eigenbases != null) {
                        kept.add(basis);
                    } else {
                        basis.close();
                    }
                }
            }
            if (eigenbases != null) {
                try {
                    EigenbasisStore.write(eigenbases, kept, loaded.description());
                    table.append(String.format("eigenbases: %s%n", eigenbases));
                } finally {
                    kept.forEach(FactorEigenbasis::close);
                }
            }
            if (plot != null) {
                SpectrumPlot.write(plot, "K-FAC factor spectra: " + factors.getFileName(), spectra);
                table.append(String.format("plot: %s%n", plot));
            }
            Map<String, Object> report = new LinkedHashMap<>();
            report.put("factors", factors.toString());
            report.put("layers", layers);
            output.print(report, table.toString());
            return 0;
        }
    }

    private Map<String, Object> factor(double[] values, dev.curvature.engine.EigenQuality quality) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("quality", quality);
        double total = Arrays.stream(values).sum();
        m.put("trace", total);
        m.put("eigenvalues", top < 0 ? values : Arrays.copyOf(values, Math.min(top, values.length)));
        return m;
    }
}
