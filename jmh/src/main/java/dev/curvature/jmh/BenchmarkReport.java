package dev.curvature.jmh;

import dev.curvature.kfac.CollectionStepFlops;
import dev.curvature.kfac.CollectionThroughput;
import dev.curvature.kfac.LayerSelection;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Runs the covariance benchmark (or whatever JMH options select) and prints achieved GFLOP/s per case plus the
 * ratio of covariance accumulation to SGEMM measured in the same run; then GPT-2 forward+backward and K-FAC
 * collection tokens/s and GFLOP/s, with the collection overhead when both ran at the same shape.
 *
 * <pre>java --enable-native-access=ALL-UNNAMED -jar jmh/target/benchmarks.jar [JMH options]</pre>
 * With no options it runs {@code CovarianceBenchmark}, {@code Gpt2StepBenchmark} and {@code KfacCollectionBenchmark};
 * {@code -h} lists JMH's options (e.g. {@code CovarianceBenchmark -p dim=768} to run one case).
 */
public final class BenchmarkReport {
    private BenchmarkReport() {
    }

    public static void main(String[] args) throws RunnerException, CommandLineOptionException, java.io.IOException {
        CommandLineOptions commandLine = new CommandLineOptions(args);
        if (commandLine.shouldHelp()) {
            commandLine.showHelp();
            return;
        }
        if (commandLine.shouldList()) {
            new Runner(commandLine).list();
            return;
        }
        var builder = new OptionsBuilder().parent(commandLine);
        if (commandLine.getIncludes().isEmpty()) {
            builder.include(CovarianceBenchmark.class.getSimpleName());
            builder.include(Gpt2StepBenchmark.class.getSimpleName());
            builder.include(KfacCollectionBenchmark.class.getSimpleName());
        }
        Collection<RunResult> results = new Runner(builder.build()).run();
        printGflops(results);
        printTransformerThroughput(results);
        printCollectionThroughput(results);
    }

    /**
     * K-FAC collection steps: tokens/s, GFLOP/s counted by {@link CollectionStepFlops} (forward, backward and the
     * SYRK updates of A and G) and the overhead against a forward+backward step of the same shape from this run.
     * (For a PyTorch comparison, run bin/speed-side-by-side: a ratio only means something between figures measured
     * on one machine at one time.)
     */
    private static void printCollectionThroughput(Collection<RunResult> results) {
        for (RunResult result : results) {
            var params = result.getParams();
            if (!params.getBenchmark().endsWith("KfacCollectionBenchmark.collect")) {
                continue;
            }
            int layers = Integer.parseInt(params.getParam("layers"));
            int width = Integer.parseInt(params.getParam("width"));
            int heads = Integer.parseInt(params.getParam("heads"));
            int vocab = Integer.parseInt(params.getParam("vocab"));
            int batch = Integer.parseInt(params.getParam("batch"));
            int time = Integer.parseInt(params.getParam("time"));
            Gpt2Config config = Gpt2Config.of(layers, heads, width, vocab, Math.max(1024, time));
            CollectionStepFlops flops = CollectionStepFlops.of(config, batch, time, (long) batch * (time - 1),
                    LayerSelection.parse(CollectionThroughput.COLLECTED_LAYERS));
            double seconds = result.getPrimaryResult().getScore() / 1e3;
            double tokensPerSecond = (double) batch * time / seconds;
            System.out.println();
            System.out.printf("K-FAC collection, all MLP projections, GOLD labels (L=%d, C=%d, V=%d, batch %d x %d, "
                            + "F32, %s, threads=%s):%n", layers, width, vocab, batch, time,
                    params.getParam("precision"), params.getParam("threads"));
            System.out.printf("  %.2f s/step  %.1f tokens/s  %.1f GFLOP/s (%.1f GFLOP/step, of which covariance "
                            + "SYRK %.1f)%n", seconds, tokensPerSecond, flops.collectionStep() / seconds / 1e9,
                    flops.collectionStep() / 1e9, flops.covariance() / 1e9);
            Double plainSeconds = plainStepSeconds(results, params);
            if (plainSeconds != null) {
                System.out.printf("  overhead ratio (collection tokens/s / forward+backward tokens/s, same run): "
                        + "%.3f%n", plainSeconds / seconds);
            }
        }
    }

    /** Seconds per Gpt2StepBenchmark step at the collection's shape and threads, if that ran too. */
    private static Double plainStepSeconds(Collection<RunResult> results, BenchmarkParams collection) {
        for (RunResult result : results) {
            var params = result.getParams();
            if (params.getBenchmark().endsWith("Gpt2StepBenchmark.forwardBackward")
                    && java.util.stream.Stream.of("layers", "width", "heads", "vocab", "batch", "time", "threads")
                    .allMatch(p -> params.getParam(p).equals(collection.getParam(p)))) {
                return result.getPrimaryResult().getScore() / 1e3;
            }
        }
        return null;
    }

    private static void printTransformerThroughput(Collection<RunResult> results) {
        for (RunResult result : results) {
            var params = result.getParams();
            if (!params.getBenchmark().endsWith("Gpt2StepBenchmark.forwardBackward")) {
                continue;
            }
            int layers = Integer.parseInt(params.getParam("layers"));
            int width = Integer.parseInt(params.getParam("width"));
            int heads = Integer.parseInt(params.getParam("heads"));
            int vocab = Integer.parseInt(params.getParam("vocab"));
            int batch = Integer.parseInt(params.getParam("batch"));
            int time = Integer.parseInt(params.getParam("time"));
            double seconds = result.getPrimaryResult().getScore() / 1e3;
            double tokens = (double) batch * time;
            // the forward + backward matrix products; no layer is collected, so the covariance term is 0
            double flops = CollectionStepFlops.of(Gpt2Config.of(layers, heads, width, vocab, Math.max(1024, time)),
                    batch, time, 0, LayerSelection.parse(CollectionThroughput.COLLECTED_LAYERS)).plainStep();
            System.out.println();
            System.out.printf("GPT-2 forward+backward (L=%d, C=%d, V=%d, batch %d x %d, F32, threads=%s):%n", layers,
                    width, vocab, batch, time, params.getParam("threads"));
            System.out.printf("  %.2f s/step  %.0f tokens/s  %.1f GFLOP/s (matmul flops %.0f M/token)%n", seconds,
                    tokens / seconds, flops / seconds / 1e9, flops / tokens / 1e6);
        }
    }

    private static void printGflops(Collection<RunResult> results) {
        // dim → (benchmark → seconds per op)
        Map<String, Map<String, Double>> byShape = new TreeMap<>();
        List<String> lines = new ArrayList<>();
        for (RunResult result : results) {
            var params = result.getParams();
            if (!params.getBenchmark().endsWith("CovarianceBenchmark." + shortName(params.getBenchmark()))
                    || params.getParam("dim") == null) {
                continue;
            }
            long n = Long.parseLong(params.getParam("dim"));
            long k = Long.parseLong(params.getParam("rows"));
            double millis = result.getPrimaryResult().getScore();
            double seconds = millis / 1e3;
            String name = shortName(params.getBenchmark());
            double flops = name.startsWith("sgemm") ? 2.0 * n * n * k : (double) n * (n + 1) * k;
            String shape = k + "x" + n + " threads=" + params.getParam("threads");
            byShape.computeIfAbsent(shape, s -> new TreeMap<>()).put(name, flops / seconds / 1e9);
            lines.add(String.format("  %-26s X %-22s %9.2f ms/op  %7.1f GFLOP/s", name, shape, millis,
                    flops / seconds / 1e9));
        }
        if (lines.isEmpty()) {
            return;
        }
        System.out.println();
        System.out.println("Covariance accumulation (useful flops n(n+1)k) vs SGEMM XᵀX (2n²k), same run:");
        lines.forEach(System.out::println);
        byShape.forEach((shape, rates) -> {
            Double gemm = rates.get("sgemmSameSize");
            Double mixed = rates.get("covarianceF32WithF64Sums");
            Double exact = rates.get("covarianceF64Exact");
            if (gemm != null && mixed != null) {
                Double syrk = rates.get("ssyrkOnly");
                System.out.printf("  X %-22s covariance F32+F64 sums / sgemm = %.3f (target >= 0.9)%s%s%n", shape,
                        mixed / gemm, exact == null ? "" : String.format("; exact F64 / sgemm = %.3f", exact / gemm),
                        syrk == null ? "" : String.format("; ssyrk alone / sgemm = %.3f", syrk / gemm));
            }
        });
    }

    private static String shortName(String benchmark) {
        return benchmark.substring(benchmark.lastIndexOf('.') + 1);
    }
}
