package dev.curvature.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line as a user meets it: help text, exit codes, JSON output. */
class CurvatureCommandTest {

    @Test
    void helpListsEveryCommandWithADescription() {
        StringWriter out = new StringWriter();
        int code = CurvatureCommand.commandLine().setOut(new PrintWriter(out)).execute("--help");
        assertEquals(0, code);
        String help = out.toString().replaceAll("\\s+", " ");   // picocli wraps at 80 columns
        for (String command : new String[]{"info", "demo", "workbench", "train", "collect", "merge", "spectrum", "edit",
                "bands", "bench"}) {
            assertTrue(help.contains(" " + command + " "), command + " missing from: " + help);
        }
        assertTrue(help.contains("self-checks the backend"), help);
    }

    @Test
    void everyCommandsHelpRendersWithoutFormatWarnings() {
        // picocli formats descriptions with String.format: a bare '%' makes it warn on stderr and print the raw text
        PrintStream saved = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            for (var sub : CurvatureCommand.commandLine().getSubcommands().values()) {
                String usage = sub.getUsageMessage();
                assertTrue(usage.length() > 100, sub.getCommandName() + ": " + usage);
            }
        } finally {
            System.setErr(saved);
        }
        String warnings = captured.toString(StandardCharsets.UTF_8);
        assertTrue(!warnings.contains("WARN"), warnings);
    }

    @Test
    void unknownOptionIsAUsageError() {
        StringWriter err = new StringWriter();
        int code = CurvatureCommand.commandLine().setErr(new PrintWriter(err)).execute("info", "--no-such-option");
        assertEquals(2, code);
        assertTrue(err.toString().contains("--no-such-option"), err.toString());
    }

    @Test
    void infoJsonReportsPassingSelfChecksWithTheirErrors() throws Exception {
        JsonNode report = new ObjectMapper().readTree(CommandRun.stdout("info", "--json", "--threads", "2"));
        assertEquals(2, report.get("threads").asInt());
        assertTrue(report.get("openBlas").asText().startsWith("OpenBLAS"), report.toString());
        assertEquals(4, report.get("checks").size());
        for (JsonNode check : report.get("checks")) {
            // each check compares the backend with a naive float64 loop; its error must be below its tolerance
            assertTrue(check.get("error").asDouble() <= check.get("tolerance").asDouble(), check.toString());
            assertTrue(check.get("passed").asBoolean(), check.toString());
        }
    }
}
