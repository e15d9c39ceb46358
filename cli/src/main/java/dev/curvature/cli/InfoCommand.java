package dev.curvature.cli;

import dev.curvature.engine.EnvironmentReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

/** {@code curvature info}: what this machine offers the engine, and a numerical self-check of the backend. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = {"Reports runtime, native libraries and threads; self-checks the backend.",
                "",
                "Shows the Java runtime, where OpenBLAS and LAPACKE were loaded from and the thread count, then "
                        + "checks GEMM, covariance accumulation and the symmetric eigensolver against naive float64 "
                        + "loops. Exit status 1 if a check fails. Prints a table on stderr; --json also prints the report "
                        + "as JSON on stdout."})
final class InfoCommand implements Callable<Integer> {
    @Option(names = "--threads", paramLabel = "N",
            description = "Threads for OpenBLAS and the Java kernels (default: $OPENBLAS_NUM_THREADS, else all cores).")
    Integer threads;

    @Mixin
    ReportOutput output;

    @Override
    public Integer call() {
        EnvironmentReport report = EnvironmentReport.collect(threads);
        output.print(report, report.toTable());
        return report.selfCheckPassed() ? 0 : 1;
    }
}
