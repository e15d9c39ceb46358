package dev.curvature.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** workbench from the command line on a synthetic source; reference: the counts asked for and occurrence counts. */
class WorkbenchCommandTest {

    @Test
    void buildsTheCorpusWithTheRequestedCounts(@TempDir Path dir) throws Exception {
        Path source = syntheticSource(dir);
        Path out = dir.resolve("wb");
        JsonNode result = new ObjectMapper().readTree(KfacCommandsTest.run("workbench", "--out", out.toString(),
                "--source", source.toString(), "--passages", "3", "--duplicates", "4", "--canaries", "2",
                "--canary-repeats", "5", "--json"));
        assertEquals(2, result.get("counts").get("canaries").asInt());
        assertEquals(10, result.get("counts").get("insertedCanaryCopies").asInt());
        assertEquals(9, result.get("counts").get("insertedDuplicateCopies").asInt());   // 3 passages × (4 − 1) copies
        String train = Files.readString(out.resolve("train.txt"));
        for (String line : Files.readAllLines(out.resolve("eval/canaries.jsonl"))) {
            JsonNode canary = new ObjectMapper().readTree(line);
            String whole = canary.get("prompt").asText() + canary.get("suffix").asText();
            int count = 0;
            for (int at = train.indexOf(whole); at >= 0; at = train.indexOf(whole, at + 1)) {
                count++;
            }
            assertEquals(5, count, "canary " + canary.get("id").asText());
        }
        assertTrue(Files.exists(out.resolve("manifest.json")));
    }

    @Test
    void theSummaryGoesToStderrAndWithJsonStdoutHoldsOnlyTheReport(@TempDir Path dir) throws Exception {
        // the output rule of every command (ReportOutput, DESIGN.md), on the cheapest one: the same build twice
        Path source = syntheticSource(dir);
        String[] options = {"--source", source.toString(), "--passages", "3", "--duplicates", "4", "--canaries", "2",
                "--canary-repeats", "5"};
        Path plain = dir.resolve("plain");
        CommandRun.Output text = CommandRun.capture(concat(new String[]{"workbench", "--out", plain.toString()}, options));
        assertEquals("", text.stdout(), "without --json stdout stays empty");
        assertTrue(text.stderr().contains("workbench: " + plain), text.stderr());
        assertTrue(text.stderr().contains("2 canaries"), text.stderr());

        Path json = dir.resolve("json");
        CommandRun.Output report = CommandRun.capture(concat(new String[]{"workbench", "--out", json.toString(), "--json"},
                options));
        JsonNode parsed = new ObjectMapper().readTree(report.stdout());
        assertEquals(json.toString(), parsed.get("directory").asText());
        assertEquals(2, parsed.get("counts").get("canaries").asInt());
        assertEquals(text.stderr().replace(plain.toString(), json.toString()), report.stderr(),
                "with --json the same summary on stderr");
    }

    @Test
    void operandDigitsAndSumCopiesReachTheTaskDataAndNeedTasks(@TempDir Path dir) throws Exception {
        Path source = syntheticSource(dir);
        Path out = dir.resolve("wb");
        KfacCommandsTest.run("workbench", "--out", out.toString(), "--source", source.toString(), "--passages", "2",
                "--duplicates", "2", "--canaries", "1", "--canary-repeats", "2", "--tasks", "--facts", "3",
                "--fact-copies", "2", "--open-book-lines", "5", "--sums", "40", "--operand-digits", "2",
                "--sum-copies", "3");
        java.util.Map<String, Integer> sums = new java.util.HashMap<>();
        for (String line : Files.readAllLines(out.resolve("train.txt"))) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+)\\+(\\d+)=(\\d+)\\.").matcher(line);
            if (m.matches()) {
                assertTrue(m.group(1).length() == 2 && m.group(2).length() == 2, line);
                sums.merge(line, 1, Integer::sum);
            }
        }
        assertEquals(40, sums.size());
        sums.forEach((line, n) -> assertEquals(3, n, line));
        JsonNode options = new ObjectMapper().readTree(out.resolve("manifest.json").toFile()).get("tasks").get("options");
        assertEquals(2, options.get("operandDigits").asInt());
        assertEquals(3, options.get("sumCopies").asInt());
        String message = CommandFailure.of("workbench", "--out", dir.resolve("no").toString(), "--source",
                source.toString(), "--operand-digits", "2").message();
        assertTrue(message.contains("--operand-digits") && message.contains("need --tasks"), message);
        String digits = CommandFailure.of("workbench", "--out", dir.resolve("no4").toString(), "--source",
                source.toString(), "--tasks", "--operand-digits", "4").message();
        assertTrue(digits.contains("operandDigits must be 2 or 3, got 4"), digits);
    }

    private static String[] concat(String[] a, String[] b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    /** 3000 lines of random words from a fixed seed: enough blocks for a small workbench. */
    static Path syntheticSource(Path dir) throws Exception {
        Random random = new Random(3);
        StringBuilder text = new StringBuilder();
        String[] words = {"light", "waters", "earth", "heaven", "seed", "tree", "day", "night", "firmament", "kind"};
        for (int line = 0; line < 3000; line++) {
            text.append("line ").append(line);
            for (int w = 0; w < 8; w++) {
                text.append(' ').append(words[random.nextInt(words.length)]);
            }
            text.append('\n');
        }
        Path source = dir.resolve("source.txt");
        Files.writeString(source, text);
        return source;
    }
}
