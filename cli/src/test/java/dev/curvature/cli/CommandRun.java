package dev.curvature.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Runs the command line in-process, as the CLI tests need it. */
final class CommandRun {
    private CommandRun() {
    }

    /** What a command printed on each stream. */
    record Output(String stdout, String stderr) {
    }

    /** Runs the command line with System.out and System.err captured; asserts exit status 0. */
    static Output capture(String... args) {
        PrintStream savedOut = System.out;
        PrintStream savedErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        StringWriter picocliErr = new StringWriter();
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = CurvatureCommand.commandLine().setErr(new PrintWriter(picocliErr)).execute(args);
        } finally {
            System.setOut(savedOut);
            System.setErr(savedErr);
        }
        assertEquals(0, code, String.join(" ", args) + " failed: " + picocliErr);
        return new Output(out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** {@link #capture}'s stdout: what a command printed for machines (e.g. its --json report). */
    static String stdout(String... args) {
        return capture(args).stdout();
    }
}
