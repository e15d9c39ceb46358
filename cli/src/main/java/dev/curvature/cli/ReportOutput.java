package dev.curvature.cli;

import picocli.CommandLine.Option;

import java.io.PrintStream;

/**
 * The output rule of every command, as a picocli mixin (DESIGN.md, "Data in, data out"): the human-readable text
 * (a table or a summary), progress bars and notes go to stderr; with {@code --json} the report also goes to stdout
 * as JSON, so stdout holds nothing but that JSON ({@code curvature demo --json > report.json}).
 */
final class ReportOutput {
    @Option(names = "--json",
            description = "Also print the report as JSON on stdout (tables, summaries and progress are on stderr).")
    boolean json;

    /** Prints {@code text} (a newline added if it lacks one) to stderr and, with --json, {@code report} as JSON. */
    void print(Object report, String text) {
        PrintStream human = System.err;
        human.print(text.endsWith("\n") ? text : text + System.lineSeparator());
        human.flush();
        if (json) {
            System.out.println(Json.write(report));
            System.out.flush();
        }
    }
}
