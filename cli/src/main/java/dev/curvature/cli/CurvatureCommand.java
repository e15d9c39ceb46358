package dev.curvature.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code java --enable-native-access=ALL-UNNAMED -jar curvature.jar <command>}: the entry point. Each command is
 * a thin layer over a library method. Output ({@link ReportOutput}): human-readable text, progress and notes on
 * stderr; with --json the report as JSON on stdout (DESIGN.md: JSON for machines on stdout, tables for people on
 * stderr).
 */
@Command(name = "curvature",
        mixinStandardHelpOptions = true,
        versionProvider = CurvatureCommand.Version.class,
        description = {
                "Measures the loss curvature of transformer models and acts on it: K-FAC curvature edits that "
                        + "remove memorized data, per-sample curvature memorization scores, and curvature-aligned "
                        + "loss-landscape probes.",
                "",
                "Numerics: OpenBLAS/LAPACK on the CPU; every float32 result can be audited by the same code path "
                        + "in float64 (--dtype F64).",
                "",
                "Start with 'curvature demo' (the K-FAC edit end to end on the bundled memorizing model, ≈2 min on "
                        + "2 cores). A typical run on your own model: collect → spectrum → edit. "
                        + "'curvature <command> --help' explains each option.",
                "",
                "Output: every command prints human-readable text (tables, summaries), progress bars and notes "
                        + "on stderr; with --json it also prints its report as JSON on stdout, which then holds "
                        + "nothing else."},
        subcommands = {InfoCommand.class, DemoCommand.class, WorkbenchCommand.class, TrainCommand.class,
                CollectCommand.class, MergeCommand.class, SpectrumCommand.class, EditCommand.class, EkfacCommand.class,
                SubnetCommand.class, BandsCommand.class, EvalCommand.class, TaskBandsCommand.class,
                ProbeCommand.class, BenchCommand.class, VitDemoCommand.class, ScoreCommand.class,
                CommandLine.HelpCommand.class})
public final class CurvatureCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured picocli command line (tests call it without exiting the JVM). */
    public static CommandLine commandLine() {
        CommandLine.IExecutionStrategy runLast = new CommandLine.RunLast();
        return new CommandLine(new CurvatureCommand())
                .setExecutionStrategy(parseResult -> {
                    // picocli hands Exceptions to the handler below; an Error (OutOfMemoryError above all) would
                    // escape as a stack trace: one line and exit 1 instead
                    try {
                        return runLast.execute(parseResult);
                    } catch (OutOfMemoryError e) {
                        parseResult.commandSpec().commandLine().getErr().println("curvature: out of memory ("
                                + e.getMessage() + "): the input asks for more than this JVM may use; raise -Xmx or "
                                + "--memory-limit, or check the file sizes and config.json");
                        return 1;
                    } catch (StackOverflowError e) {
                        parseResult.commandSpec().commandLine().getErr().println("curvature: input nested too deeply "
                                + "(stack overflow)");
                        return 1;
                    }
                })
                .setExecutionExceptionHandler((e, cmd, parseResult) -> {
                    // One clear line for the user; the stack trace only when asked for.
                    cmd.getErr().println("curvature: " + e.getMessage());
                    if (Boolean.getBoolean("curvature.debug")) {
                        e.printStackTrace(cmd.getErr());
                    } else {
                        cmd.getErr().println("(run with -Dcurvature.debug=true for the stack trace)");
                    }
                    return 1;
                });
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = CurvatureCommand.class.getPackage().getImplementationVersion();
            return new String[]{"curvature " + (version == null ? "(development build)" : version),
                    "Java " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")"};
        }
    }
}
