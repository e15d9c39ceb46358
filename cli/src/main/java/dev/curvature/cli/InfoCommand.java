package dev.curvature.cli;

import dev.curvature.engine.EnvironmentReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

/** {@code curvature info}: what this machine offers the engine, and a numerical self-check of the backend. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = {"Reports runtime, native libraries and threads; self-checks the backend.",
                "",
                "Shows the Java runtime, where OpenBLAS and LAPACKE were loaded from and the thread count, then "
                        + "checks GEMM, covariance accumulation and the symmetric eigensolver against naive float64 "
                        + "loops. Exit status 1 if a check fails. A table goes to stderr; with --json the report "
                        + "goes to stdout as JSON."})
final class InfoCommand implements Callable<Integer> {
    @Option(names = "--threads", paramLabel = "N",
            description = "Threads for OpenBLAS and the Java kernels (default: $OPENBLAS_NUM_THREADS, else all cores).")
    Integer threads;

    @Option(names = "--json", description = "Write the report as JSON to stdout.")
    boolean json;

    @Override
    public Integer call() {
        EnvironmentReport report = EnvironmentReport.collect(threads);
        if (json) {
            System.out.println(Json.write(report));
        } else {
            System.err.print(report.toTable());
        }
        return report.selfCheckPassed() ? 0 : 1;
    }
}
