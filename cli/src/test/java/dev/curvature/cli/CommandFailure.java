package dev.curvature.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;

/** Runs the command line in-process expecting a failure: its exit code and everything it printed on stderr. */
record CommandFailure(int code, String stderr) {

    static CommandFailure of(String... args) {
        PrintStream savedOut = System.out;
        PrintStream savedErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        StringWriter picocliErr = new StringWriter();
        int code;
        try {
            System.setOut(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = CurvatureCommand.commandLine().setErr(new PrintWriter(picocliErr, true)).execute(args);
        } finally {
            System.setOut(savedOut);
            System.setErr(savedErr);
        }
        return new CommandFailure(code, picocliErr + err.toString(StandardCharsets.UTF_8));
    }

    /** The one line the error handler printed ("curvature: ..."), or the whole stderr when there is none. */
    String message() {
        return stderr.lines().filter(l -> l.startsWith("curvature: ")).findFirst().orElse(stderr);
    }
}
