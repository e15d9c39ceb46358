package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.ProfilingBackend;
import dev.curvature.kfac.CollectionStepFlops;
import dev.curvature.kfac.CollectionThroughput;
import dev.curvature.kfac.LayerSelection;
import dev.curvature.kfac.MemoryPlan;
import dev.curvature.kfac.SgemmRate;
import dev.curvature.transformer.llama.LlamaConfig;
import dev.curvature.transformer.model.LinearLayer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.util.List;
import java.util.concurrent.Callable;

/** {@code curvature bench}: K-FAC factor collection throughput against plain forward + backward, same run. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measures K-FAC factor collection throughput (tokens/s, GFLOP/s) on a random GPT-2.",
                "",
                "Default shape: GPT-2 small (12 layers, width 768, 12 heads, vocabulary 50,257, context 1024), "
                        + "batch 4 x 256 tokens, float32, 2 threads; factors A and G of all 24 MLP projections "
                        + "(h.*.mlp.c_fc, h.*.mlp.c_proj) with gold labels. Weights are GPT-2's random initialisation "
                        + "and the tokens random ids, both from fixed seeds (the cost does not depend on the values).",
                "",
                "Each step runs a plain forward + backward with no observer, then a collection step, on the same "
                        + "batch; after --warmup unmeasured steps, --steps measured steps of each kind. Reported: "
                        + "tokens/s (B x T tokens per step), achieved GFLOP/s (GEMM and SYRK flops counted "
                        + "explicitly: forward, backward, attention, LM head, and n(n+1)k per n x n covariance "
                        + "update from k rows), the overhead ratio collection tokens/s / plain tokens/s, and both "
                        + "GFLOP/s as a share of this machine's SGEMM rate, measured in the same run at the step's "
                        + "product shapes (each linear layer's N x d_out x d_in and the LM head's N x V x C, "
                        + "N = B x T), before and after the steps, the faster of the two counting. To compare with PyTorch, run bin/speed-side-by-side on the same machine. "
                        + "With the defaults the command takes about 1-2 minutes on 2 cores.",
                "",
                "--profile adds a per-operation breakdown of the measured steps on stderr: every backend call "
                        + "timed, products by shape (so by role: QKV, attention projection, MLP, LM head, forward "
                        + "and backward, attention's per-head products, covariance SYRKs), elementwise kernels, the "
                        + "time outside the backend, and CPU/wall per operation (about 1 on 2 threads: a "
                        + "single-threaded stretch).",
                "",
                "--shape olmo2-1b measures the paper's 1B setting instead: OLMo-2 1B's shape (16 blocks, hidden 2048, "
                        + "SwiGLU 8192, 16 heads, vocabulary 100,352, untied head; random weights, about 6 GB in "
                        + "float32), batch 2 x 512, factors of gate_proj, up_proj and down_proj of blocks 13-15, "
                        + "collection steps only (no parameter gradients: the memory of a collection run), and "
                        + "compares the memory plan's prediction with the process's measured peak resident set "
                        + "(VmHWM). It needs about 18 GB of memory and takes about a minute per step on 2 cores.",
                "",
                "Prints a table on stderr; --json also prints the report as JSON on stdout. Progress on stderr."})
final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--shape", defaultValue = "gpt2-small", paramLabel = "gpt2-small|olmo2-1b",
            description = "gpt2-small: the GPT-2 shape of --layers/--width/--heads/--vocab (default); olmo2-1b: OLMo-2 "
                    + "1B's shape, blocks 13-15 gate/up/down, batch 2 x 512 unless --batch/--time are given, "
                    + "collection steps only, memory plan against peak RSS.")
    String shape;

    @Option(names = "--layers", defaultValue = "12", paramLabel = "L",
            description = "Transformer blocks (default: ${DEFAULT-VALUE}).")
    int layers;

    @Option(names = "--width", defaultValue = "768", paramLabel = "C",
            description = "Model width n_embd; the MLP is 4C wide; must be divisible by --heads "
                    + "(default: ${DEFAULT-VALUE}).")
    int width;

    @Option(names = "--heads", defaultValue = "12", paramLabel = "H",
            description = "Attention heads (default: ${DEFAULT-VALUE}).")
    int heads;

    @Option(names = "--vocab", defaultValue = "50257", paramLabel = "V",
            description = "Vocabulary size; the LM head is a C x V product (default: ${DEFAULT-VALUE}).")
    int vocab;

    @Option(names = "--batch", defaultValue = "4", paramLabel = "B",
            description = "Windows per step (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--time", defaultValue = "256", paramLabel = "T",
            description = "Tokens per window, >= 2; the model's context is max(1024, T). The last position of "
                    + "each window has no target and adds no row to A and G (default: ${DEFAULT-VALUE}).")
    int time;

    @Option(names = "--steps", defaultValue = "3", paramLabel = "N",
            description = "Measured steps of each kind, plain and collection (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--warmup", defaultValue = "1", paramLabel = "N",
            description = "Unmeasured steps of each kind first: buffers allocated, code compiled "
                    + "(default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--threads", defaultValue = "2", paramLabel = "N",
            description = "Threads for OpenBLAS and the Java kernels (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--profile",
            description = "Also print a per-operation time breakdown of the measured plain and collection steps "
                    + "(stderr).")
    boolean profile;

    @Option(names = "--precision", defaultValue = "F32_WITH_F64_SUMS", paramLabel = "F32_WITH_F64_SUMS|F64_EXACT",
            description = "How factors are accumulated: F32_WITH_F64_SUMS, each batch's SYRK in float32 folded into "
                    + "float64 sums (what 'collect' does by default); F64_EXACT, rows widened to float64 and DSYRK "
                    + "into the sums ('collect --exact', the audit mode). Default: ${DEFAULT-VALUE}.")
    CovariancePrecision precision;

    @Mixin
    ReportOutput output;

    @Override
    public Integer call() {
        CollectionThroughput.Options options;
        try {
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be >= 1, got " + threads);
            }
            options = new CollectionThroughput.Options(layers, width, heads, vocab, batch, time, warmup, steps,
                    precision);
        } catch (IllegalArgumentException e) {
            // bad option values, not a failed run: a usage error (exit 2) whose message names the option
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        if (shape.equals("olmo2-1b")) {
            return olmo2OneBillion();
        }
        if (!shape.equals("gpt2-small")) {
            throw new ParameterException(spec.commandLine(), "--shape must be gpt2-small or olmo2-1b, got '" + shape
                    + "'");
        }
        try (CpuBackend cpu = new CpuBackend(threads)) {
            ProfilingBackend profiler = profile ? new ProfilingBackend(cpu) : null;
            Backend backend = profile ? profiler.backend() : cpu;
            System.err.printf("bench: GPT-2 L=%d C=%d H=%d V=%d, batch %d x %d, %s, %s%n", layers, width, heads, vocab,
                    batch, time, precision, backend.name());
            ProgressLine progress = new ProgressLine("bench", "steps (plain + collection)");
            CollectionThroughput.Report report = CollectionThroughput.measure(backend, options, options.config(),
                    LayerSelection.parse(CollectionThroughput.COLLECTED_LAYERS), true,
                    (done, total) -> progress.update(done, total, 0),
                    profile ? profiler::section : CollectionThroughput.StepKinds.NONE);
            if (profile) {
                System.err.print(profileTable(profiler, report));
            }
            output.print(report, table(report));
            return 0;
        }
    }

    /** The report of --shape olmo2-1b: the collection's rates, and the memory plan against the measured peak. */
    record MemoryCheck(CollectionThroughput.Report throughput, long plannedBytes, long plannedWithFileWriteBytes,
                       long peakResidentBytes, double peakOverPlan, String plan) {
    }

    private int olmo2OneBillion() {
        var parse = spec.commandLine().getParseResult();
        int b = parse.hasMatchedOption("--batch") ? batch : 2;
        int t = parse.hasMatchedOption("--time") ? time : 512;
        LlamaConfig config = CollectionThroughput.olmo2OneBillion();
        LayerSelection selection = LayerSelection.parse(CollectionThroughput.OLMO2_1B_LAYERS);
        List<String> names = selection.select(config.linearLayers());
        List<LinearLayer> selected = config.linearLayers().stream().filter(l -> names.contains(l.name())).toList();
        MemoryPlan plan = MemoryPlan.collection(config, DType.F32, b, t, selected, precision, threads);
        // the bench writes no factor file: its prediction is the plan without the file writer's copies
        long withoutWrite = plan.items().stream().filter(i -> !i.group().equals("factor file write"))
                .mapToLong(MemoryPlan.Item::bytes).sum();
        String rendered = plan.render(MemoryPlan.available(null));
        System.err.print(rendered);
        CollectionThroughput.Options options = new CollectionThroughput.Options(layers, width, heads, vocab, b, t,
                warmup, steps, precision);
        try (CpuBackend backend = new CpuBackend(threads)) {
            System.err.printf("bench: OLMo-2 1B shape (%d blocks, hidden %d, SwiGLU %d, %d heads, vocabulary %d), "
                            + "batch %d x %d, %s, %s; collection steps only%n", config.layers(), config.hiddenSize(),
                    config.intermediateSize(), config.heads(), config.vocabSize(), b, t, precision, backend.name());
            ProgressLine progress = new ProgressLine("bench", "collection steps");
            CollectionThroughput.Report report = CollectionThroughput.measure(backend, options, config, selection,
                    false, (done, total) -> progress.update(done, total, 0), CollectionThroughput.StepKinds.NONE);
            long peak = PeakMemory.residentHighWaterMark();
            MemoryCheck check = new MemoryCheck(report, withoutWrite, plan.total(), peak,
                    (double) peak / withoutWrite, rendered);
            output.print(check, memoryTable(check));
            return 0;
        }
    }

    static String memoryTable(MemoryCheck check) {
        CollectionThroughput.Report r = check.throughput();
        CollectionThroughput.Measurement m = r.collection();
        StringBuilder s = new StringBuilder();
        s.append(String.format("K-FAC collection, OLMo-2 1B shape, batch %d x %d (%d counted positions), %d layers "
                        + "collected (%s), GOLD labels, %s%n", r.options().batch(), r.options().time(),
                r.countedPositionsPerStep(), r.collectedLayers().size(), CollectionThroughput.OLMO2_1B_LAYERS,
                r.options().precision()));
        s.append(String.format("  %s%n", r.backend()));
        s.append(String.format("  %-28s %5s %9s %10s %9s %11s%n", "", "steps", "s/step", "tokens/s", "GFLOP/s",
                "GFLOP/step"));
        row(s, "K-FAC collection", m);
        s.append(String.format("  memory: plan %s (without the factor file writer's copies, %s with them); measured "
                        + "peak resident set (VmHWM) %s: %.3f of the plan%n", MemoryPlan.bytes(check.plannedBytes()),
                MemoryPlan.bytes(check.plannedWithFileWriteBytes()), MemoryPlan.bytes(check.peakResidentBytes()),
                check.peakOverPlan()));
        return s.toString();
    }

    /** The human summary: one line per kind of step, the ratios, and the flop count. */
    static String table(CollectionThroughput.Report report) {
        CollectionThroughput.Options o = report.options();
        CollectionStepFlops f = report.flops();
        StringBuilder s = new StringBuilder();
        s.append(String.format("K-FAC collection, GPT-2 L=%d C=%d H=%d V=%d context %d, batch %d x %d (%d counted "
                        + "positions), %d layers collected, GOLD labels, %s%n", o.layers(), o.width(), o.heads(),
                o.vocab(), report.model().contextLength(), o.batch(), o.time(), report.countedPositionsPerStep(),
                report.collectedLayers().size(), o.precision()));
        s.append(String.format("  %s%n", report.backend()));
        s.append(String.format("  %-28s %5s %9s %10s %9s %11s%n", "", "steps", "s/step", "tokens/s", "GFLOP/s",
                "GFLOP/step"));
        row(s, "plain forward+backward", report.plain());
        row(s, "K-FAC collection", report.collection());
        s.append(String.format("  overhead ratio (collection tokens/s / plain tokens/s): %.3f%n",
                report.overheadRatio()));
        SgemmRate sgemm = report.sgemm();
        s.append(String.format("  SGEMM at the step's product shapes, measured in this run: %.1f GFLOP/s (flop-weighted; "
                        + "before the steps %.1f, after %.1f, the faster counts); plain %.1f%% of it, collection %.1f%% "
                        + "of it%n", sgemm.gflopPerSecond(), report.sgemmBeforeSteps(), report.sgemmAfterSteps(),
                100 * report.plainShareOfSgemm(), 100 * report.collectionShareOfSgemm()));
        for (SgemmRate.Shape shape : sgemm.shapes()) {
            s.append(String.format("    %-24s m x n x k = %d x %d x %d, %2d per forward: %.1f GFLOP/s%n", shape.role(),
                    shape.m(), shape.n(), shape.k(), shape.perStep(), shape.gflopPerSecond()));
        }
        s.append(String.format("  GFLOP per step: forward linear %.4g, attention %.4g, LM head %.4g; backward %.4g; "
                        + "covariance SYRK %.4g%n", f.forwardLinear() / 1e9, f.forwardAttention() / 1e9,
                f.forwardLmHead() / 1e9, f.backward() / 1e9, f.covariance() / 1e9));
        return s.toString();
    }

    private static void row(StringBuilder s, String name, CollectionThroughput.Measurement m) {
        s.append(String.format("  %-28s %5d %9.3f %10.1f %9.1f %11.4g%n", name, m.steps(), m.seconds() / m.steps(),
                m.tokensPerSecond(), m.gflopPerSecond(), m.flopsPerStep() / 1e9));
    }

    /** The --profile breakdown: the measured plain and collection steps, each per operation, per step. */
    static String profileTable(ProfilingBackend profiler, CollectionThroughput.Report report) {
        StringBuilder s = new StringBuilder(String.format("bench --profile: per operation over the %d measured steps "
                + "of each kind (share = of that kind's wall time; cpu/wall = cores kept busy)%n",
                report.collection().steps()));
        for (ProfilingBackend.Section section : profiler.sections()) {
            if (section.name().equals("plain") || section.name().equals("collection")) {
                s.append(ProfilingBackend.render(section));
            }
        }
        return s.toString();
    }
}
