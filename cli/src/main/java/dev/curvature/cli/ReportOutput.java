package dev.curvature.cli;

import picocli.CommandLine.Option;

import java.io.PrintStream;

/**
 * The output rule of every command, as a picocli mixin: without {@code --json} the human-readable text goes to
 * stdout; with {@code --json} the report goes to stdout as JSON and the text to stderr. Progress bars and notes
 * are always on stderr, so stdout holds exactly one of the two.
 */
final class ReportOutput {
    @Option(names = "--json",
            description = "Print the report as JSON on stdout (the human-readable output then goes to stderr).")
    boolean json;

    /** Prints {@code text} (a newline added if it lacks one) and, with --json, {@code report} as JSON. */
    void print(Object report, String text) {
        PrintStream human = json ? System.err : System.out;
        human.print(text.endsWith("\n") ? text : text + System.lineSeparator());
        human.flush();
        if (json) {
            System.out.println(Json.write(report));
            System.out.flush();
        }
    }
}
