package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.kfac.LayerSelection;
import dev.curvature.kfac.probe.LandscapeProbe;
import dev.curvature.kfac.probe.ParameterSelection;
import dev.curvature.kfac.probe.ProbeSweep;
import dev.curvature.kfac.probe.SlopeFit;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.data.TextCorpus;
import dev.curvature.transformer.model.LinearLayer;
import dev.curvature.transformer.model.Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code curvature probe}: the curvature-aligned loss-landscape probe Δ2^(D) (ALGORITHMS.md §3). */
@Command(name = "probe", mixinStandardHelpOptions = true,
        description = {"How much the loss landscape near the model's weights w* moves when one more sequence is "
                + "added, measured in the top-D Hessian eigenspace (Kiselev & Grabovoy, Δ2^(D)).",
                "",
                "The corpus is cut into windows of --time tokens, shuffled by each seed; the first k windows are the "
                        + "data of L_k, window k + 1 is added. Increment δ(w) = L_{k+1} − L_k = (ℓ_{k+1} − L_k)/(k+1) "
                        + "in float64. Stages per (k, seed): subspace U_D = top-D algebraic eigenvectors of the "
                        + "Hessian of L_k (Lanczos with full reorthogonalization on central-difference "
                        + "Hessian-vector products, or the paper's deflated power iteration); coefficients "
                        + "a = δ(w*), c = Uᵀ∇δ, B = Uᵀ∇²δ U; evaluation per σ: full-space Δ2 = E[δ(w* + ε)²], "
                        + "ε ~ N(0, σ²I) over the selected parameters (MC), direct Δ2^(D) = E[δ(w* + Uz)²], "
                        + "z ~ N(0, σ²I_D) (MC), quadratic MC of a + cᵀz + ½zᵀBz on the same z, and the "
                        + "Gaussian-moment closed form a² + aσ²trB + σ²‖c‖² + σ⁴/4 (2trB² + (trB)²).",
                "",
                "The probe always computes in F64 (--dtype is ignored): Hessian-vector products difference "
                        + "gradients. With several k, the log-log slope of each Δ against k is fitted (expected "
                        + "about −2): over every (k, seed) point, and with three or more k through the log of the mean over "
                + "seeds at each k (residual standard error). Prints a table on stderr; --json also prints the report (with per-stage "
                        + "timings) as JSON on stdout."})
final class ProbeCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Option(names = "--corpus", required = true, paramLabel = "FILE",
            description = "Text to draw the windows from: plain UTF-8, or JSONL with one {\"text\": ...} per line.")
    Path corpus;

    @Option(names = "--params", paramLabel = "GLOBS",
            description = "Parameter tensors to probe, comma-separated globs over HF names, e.g. 'h.0.mlp.*' "
                    + "(default: all parameters).")
    String params;

    @Option(names = "--layers", paramLabel = "PATTERNS",
            description = "Or: linear layers to probe (their weights and biases), globs over layer names as in "
                    + "collect, e.g. 'h.1.mlp.c_fc'.")
    String layers;

    @Option(names = "--k", defaultValue = "8", split = ",", paramLabel = "K",
            description = "Sequences in L_k, comma-separated for a sweep (default: ${DEFAULT-VALUE}).")
    List<Integer> ks;

    @Option(names = "--sigma", defaultValue = "1e-4,1e-3,1e-2", split = ",", paramLabel = "SIGMA",
            description = "Perturbation scales σ (default: ${DEFAULT-VALUE}).")
    List<Double> sigmas;

    @Option(names = "--dim", defaultValue = "4", paramLabel = "D",
            description = "Eigenspace dimension D (default: ${DEFAULT-VALUE}).")
    int dimension;

    @Option(names = "--samples", defaultValue = "16", paramLabel = "S",
            description = "MC samples per σ and estimator (default: ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--seed", defaultValue = "0", split = ",", paramLabel = "SEED",
            description = "Seeds (window order, start vectors, MC draws), comma-separated for repeats "
                    + "(default: ${DEFAULT-VALUE}).")
    List<Long> seeds;

    @Option(names = "--next", defaultValue = "1", paramLabel = "M",
            description = "Candidate windows for sequence k + 1 (default: ${DEFAULT-VALUE}): each is added to the same "
                    + "first k in turn and every Δ is averaged over them, the expectation over which sequence is "
                    + "added; the subspace, ∇L_k, H^(k)U and L_k at each draw are shared, so M costs little. With "
                    + "M > 1 the ± are the spread over the candidates over √M.")
    int next;

    @Option(names = "--time", paramLabel = "T",
            description = "Tokens per window (default: min(context, 64)).")
    Integer time;

    @Option(names = "--solver", defaultValue = "LANCZOS", paramLabel = "LANCZOS|POWER",
            description = "Subspace construction (default: ${DEFAULT-VALUE}; POWER: the paper's deflated power "
                    + "iteration, 30 iterations, tolerance 1e-4, largest magnitude).")
    LandscapeProbe.Solver solver;

    @Option(names = "--iterations", defaultValue = "0", paramLabel = "N",
            description = "Solver iterations (Lanczos steps; power iterations per vector); 0: the default "
                    + "(Lanczos min(N, max(60, 10·D)), tolerance 1e-8).")
    int iterations;

    @Option(names = "--hvp-step", defaultValue = "1e-6", paramLabel = "C",
            description = "Relative central-difference step c, ε = c·(1 + ‖w*‖)/‖v‖ (default: ${DEFAULT-VALUE}).")
    double hvpStep;

    @Option(names = "--plots", paramLabel = "DIR",
            description = "Write probe-delta-vs-k.png (log-log) and probe-ratio-vs-sigma.png into this directory.")
    Path plots;

    @Mixin
    ReportOutput output;

    @Override
    public Integer call() throws Exception {
        if (params != null && layers != null) {
            throw new IllegalArgumentException("give --params or --layers, not both");
        }
        try (Backend backend = model.backend()) {
            Model lm = ModelCheckpoints.load(backend, model.model, DType.F64);
            try {
                ParameterSelection selection = selection(lm);
                int window = time != null ? time : Math.min(lm.config().contextLength(), 64);
                if (window < 2 || window > lm.config().contextLength()) {
                    throw new IllegalArgumentException("--time " + window + " must be in [2, "
                            + lm.config().contextLength() + "]");
                }
                int[] tokens = TextCorpus.read(corpus).tokens(model.tokenizer(lm.config().vocabSize()));
                var options = new LandscapeProbe.Options(dimension, sigmas, samples, seeds.get(0), solver, iterations,
                        0, hvpStep, next);
                Map<String, ProgressLine> progress = new HashMap<>();
                long start = System.nanoTime();
                ProbeSweep sweep = ProbeSweep.run(lm, selection, tokens, window, ks, seeds, options,
                        (stage, done, total) -> progress.computeIfAbsent(stage, s -> new ProgressLine(s, "steps"))
                                .update(done, total, 0));
                double seconds = (System.nanoTime() - start) / 1e9;
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("model", model.model.toString());
                out.put("corpus", corpus.toString());
                out.put("parameters", selection.patterns());
                out.put("parameterCount", selection.size());
                out.put("tensors", selection.names());
                out.put("time", window);
                out.put("options", options);
                out.put("seeds", seeds);
                out.put("seconds", seconds);
                out.put("runs", sweep.runs());
                out.put("fits", sweep.fits());
                StringBuilder text = new StringBuilder(table(sweep, selection));
                if (plots != null) {
                    Files.createDirectories(plots);
                    Path k = plots.resolve("probe-delta-vs-k.png");
                    Path ratio = plots.resolve("probe-ratio-vs-sigma.png");
                    ProbePlot.deltaAgainstK(k, sweep, sigmas);
                    ProbePlot.ratioAgainstSigma(ratio, sweep, sigmas);
                    out.put("plots", List.of(k.toString(), ratio.toString()));
                    text.append(String.format("plots: %s, %s%n", k, ratio));
                }
                output.print(out, text.toString());
                return 0;
            } finally {
                lm.parameters().close();
            }
        }
    }

    private ParameterSelection selection(Model lm) {
        if (layers == null) {
            return ParameterSelection.parse(params, lm.parameters());
        }
        List<String> names = new ArrayList<>();
        for (String layer : LayerSelection.parse(layers).select(lm.linearLayers())) {
            names.add(layer + ".weight");
            if (lm.parameters().contains(layer + ".bias")) {
                names.add(layer + ".bias");
            }
        }
        return ParameterSelection.ofNames("--layers " + layers, names, lm.parameters());
    }

    static String table(ProbeSweep sweep, ParameterSelection selection) {
        StringBuilder s = new StringBuilder(String.format("probe over %d parameters (%s)%n", selection.size(),
                selection.patterns()));
        for (LandscapeProbe.Result r : sweep.runs()) {
            s.append(String.format("k=%d seed=%d  L_k=%.6f ℓ_{k+1}=%.6f a=%.4g  %s %d its%s, %d HVPs  "
                            + "subspace %.3f s, coefficients %.3f s%n", r.k(), r.seed(), r.lossK(), r.lossNext(),
                    r.quadratic().a(), r.solver(), r.solverIterations(), r.solverConverged() ? "" : " (not converged)",
                    r.products(), r.timings().subspaceSeconds(), r.timings().coefficientSeconds()));
            StringBuilder eig = new StringBuilder("  λ (residual):");
            for (int i = 0; i < r.eigenvalues().length; i++) {
                eig.append(String.format(" %.5g (%.1e)", r.eigenvalues()[i], r.residuals()[i]));
            }
            s.append(eig).append(System.lineSeparator());
            s.append(String.format("  M=%d candidates: mean a²=%.4g, ‖∇δ‖² (all N)=%.4g, ‖c‖² (subspace)=%.4g, "
                            + "weight rms=%.4g%n", r.nextWindows(), r.meanSquaredIncrement(),
                    r.incrementGradientSquared(), r.incrementSubspaceGradientSquared(), r.weightRms()));
            s.append(String.format("  %-8s %-22s %-22s %-22s %-22s %-17s  %s%n", "σ", "full Δ2 (MC)",
                    "direct Δ2^(D) (MC)", "quadratic MC", "closed form", "ratio", "time direct / closed"));
            for (LandscapeProbe.SigmaResult x : r.sigmas()) {
                s.append(String.format("  %-8.2g %-22s %-22s %-22s %-22s %7.4f ± %.4f  %.3g s / %.2g s (%.0f×)%n",
                        x.sigma(), pm(x.fullSpace()), pm(x.direct()), pm(x.quadraticMc()), pm(x.closedForm()),
                        x.subspaceRatio(), x.ratioStandardError(), x.direct().seconds(), x.closedForm().seconds(),
                        x.direct().seconds() / x.closedForm().seconds()));
            }
        }
        for (SlopeFit f : sweep.fits()) {
            s.append(String.format("slope of log Δ vs log k, %s σ=%g: %.3f ± %.3f (%d points)%n", f.estimator(),
                    f.sigma(), f.slope(), f.standardError(), f.points()));
        }
        return s.toString();
    }

    private static String pm(LandscapeProbe.Estimate e) {
        return String.format("%.4e ± %.1e", e.value(), e.standardError());
    }
}
