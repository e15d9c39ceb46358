package dev.curvature.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.eval.Perplexity;
import dev.curvature.transformer.eval.TaskEval;
import dev.curvature.transformer.model.CausalLm;
import dev.curvature.transformer.tokenizer.ByteTokenizer;
import dev.curvature.transformer.train.TokenWindows;
import dev.curvature.transformer.workbench.TaskSample;
import dev.curvature.transformer.workbench.TaskSuite;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * eval on a small random GPT-2: the CLI's figures are the library's on the same inputs (a sample whose answer is the
 * model's own greedy text counts, one with a changed byte does not), perplexity on evenly spaced windows of --text,
 * the Δ row against --baseline, and one-line errors for bad input.
 */
class EvalCommandTest {

    @Test
    void evalReportsTaskAccuracyPerplexityAndErrors(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        ByteTokenizer bytes = new ByteTokenizer();
        String prompt = "Q: where does kabol live? A:";
        String own;
        try (CpuBackend backend = new CpuBackend(1)) {
            CausalLm lm = (CausalLm) ModelCheckpoints.load(backend, model, DType.F32);
            try {
                own = TaskEval.evaluate(lm, bytes, List.of(new TaskSample(prompt, "xxxx", "t", "probe")), 1)
                        .outcomes().get(0).generated();
            } finally {
                lm.parameters().close();
            }
        }
        // the model's own 4-byte greedy text is the right answer; with its first byte changed it is wrong
        Path tasks = Files.createDirectories(dir.resolve("tasks"));
        String answer = own;
        String wrong = (own.charAt(0) == 'a' ? "b" : "a") + own.substring(1);
        Files.writeString(tasks.resolve("a-facts.jsonl"), TaskSuite.toJsonl(List.of(
                new TaskSample(prompt, answer, "facts", "facts-0"),
                new TaskSample(prompt, wrong, "facts", "facts-1"))));
        Files.writeString(tasks.resolve("b-sums.jsonl"), TaskSuite.toJsonl(List.of(
                new TaskSample("12+34=", "46.", "sums", "sums-0"))));
        Path text = dir.resolve("heldout.txt");
        Files.writeString(text, "And God said, Let there be light: and there was light. ".repeat(20));

        JsonNode report = new ObjectMapper().readTree(CommandRun.stdout("eval", "--model", model.toString(),
                "--tasks", tasks.toString(), "--text", text.toString(), "--eval-tokens", "256", "--json",
                "--threads", "1"));
        JsonNode row = report.get("models").get(0);
        assertTrue(answer.chars().allMatch(c -> c >= 32 && c < 127), "the tiny model writes ASCII here: " + answer);
        assertEquals(1, row.get("tasks").get("facts").get("correct").asInt());
        assertEquals(2, row.get("tasks").get("facts").get("samples").asInt());
        assertEquals(1, row.get("tasks").get("sums").get("samples").asInt());
        assertEquals(List.of("facts", "sums"), iterate(row.get("tasks")));
        int[] windows = TokenWindows.evenlySpaced(bytes.encode(Files.readString(text)), 256 / 64, 64);
        try (CpuBackend backend = new CpuBackend(1)) {
            CausalLm lm = (CausalLm) ModelCheckpoints.load(backend, model, DType.F32);
            try {
                Perplexity p = Perplexity.of(lm, windows, 64, 16);
                assertEquals(p.perplexity(), row.get("perplexity").get("perplexity").asDouble(), 1e-9);
            } finally {
                lm.parameters().close();
            }
        }

        // --baseline adds a first row and a Δ row in the table
        CommandRun.Output both = CommandRun.capture("eval", "--model", model.toString(), "--baseline",
                model.toString(), "--tasks", tasks.toString(), "--text", "none", "--threads", "1");
        assertTrue(both.stderr().contains("Δ (last − first)") && both.stderr().contains("+0.000"), both.stderr());

        // one-line errors naming the option or file
        String missing = dir.resolve("nope").toString();
        assertTrue(CommandFailure.of("eval", "--model", missing).message().contains("--model " + missing));
        assertTrue(CommandFailure.of("eval", "--model", model.toString(), "--tasks", missing).message()
                .contains("--tasks " + missing));
        Path bad = dir.resolve("bad.jsonl");
        Files.writeString(bad, "{\"prompt\": \"1+1=\", \"task\": \"sums\", \"id\": \"x\"}\n");
        String badLine = CommandFailure.of("eval", "--model", model.toString(), "--tasks", bad.toString()).message();
        assertTrue(badLine.contains(bad.toString()) && badLine.contains("line 1") && badLine.contains("answer"),
                badLine);
        assertTrue(CommandFailure.of("eval", "--model", model.toString(), "--tasks", "none", "--text", "none")
                .message().contains("nothing to evaluate"));
        assertTrue(CommandFailure.of("eval", "--model", model.toString(), "--batch", "0").message()
                .contains("--batch 0"));
        assertTrue(CommandFailure.of("workbench", "--out", dir.resolve("wb").toString(), "--facts", "5").message()
                .contains("need --tasks"));
        // task-bands needs a workbench model whose manifest records task data
        assertTrue(CommandFailure.of("task-bands", "--model", model.toString()).message()
                .contains("no workbench-manifest.json"));
        var plain = dev.curvature.transformer.workbench.WorkbenchBuilder.write(
                new dev.curvature.transformer.workbench.CorpusSource.Text("synthetic",
                        "a line of plain text, long enough to hold out a block of it\n".repeat(400)),
                dev.curvature.transformer.workbench.WorkbenchOptions.defaults(1).withPassages(0, 1)
                        .withCanaries(1, 2, "ab").withHeldout(0.1, 500, 0), dir.resolve("plain-workbench"));
        Files.copy(plain.directory().resolve("manifest.json"), model.resolve("workbench-manifest.json"));
        assertTrue(CommandFailure.of("task-bands", "--model", model.toString(), "--out", dir.resolve("tb").toString())
                .message().contains("records no task data"));
    }

    private static List<String> iterate(JsonNode object) {
        List<String> names = new java.util.ArrayList<>();
        object.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
