package dev.curvature.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.gpt2.Gpt2Checkpoints;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.llama.LlamaConfig;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** train from the command line: a run, a refused second run into the same directory, and the written checkpoint. */
class TrainCommandTest {

    @Test
    void trainsWritesACheckpointAndRefusesToOverwriteIt(@TempDir Path dir) throws Exception {
        Path corpus = dir.resolve("corpus.txt");
        Files.writeString(corpus, "And God said, Let there be light: and there was light. ".repeat(20));
        Path out = dir.resolve("run");
        JsonNode result = new ObjectMapper().readTree(KfacCommandsTest.run("train", "--corpus", corpus.toString(),
                "--out", out.toString(), "--layers", "1", "--width", "32", "--heads", "2", "--time", "32",
                "--batch", "4", "--steps", "6", "--checkpoint-every", "4", "--warmup", "2", "--json"));
        assertEquals(6, result.get("steps").asInt());
        assertEquals(6, Trainer.readState(out).step());
        try (CpuBackend backend = new CpuBackend(1)) {
            Gpt2Model model = Gpt2Checkpoints.load(backend, out, DType.F32);
            assertEquals(256, model.config().vocabSize());
            assertEquals(32, model.config().nPositions());
            model.parameters().close();
        }
        StringWriter err = new StringWriter();
        int code = CurvatureCommand.commandLine().setErr(new PrintWriter(err)).execute("train", "--corpus",
                corpus.toString(), "--out", out.toString());
        assertEquals(1, code);
        assertTrue(err.toString().contains("--resume"), err.toString());
    }

    @Test
    void trainsAnOlmo2AndResumesItBitForBit(@TempDir Path dir) throws Exception {
        Path corpus = dir.resolve("corpus.txt");
        Files.writeString(corpus, "In the beginning God created the heaven and the earth. ".repeat(30));
        String[] common = {"train", "--family", "olmo2", "--corpus", corpus.toString(), "--layers", "2", "--width",
                "32", "--heads", "4", "--kv-heads", "2", "--time", "32", "--batch", "4", "--steps", "6", "--warmup",
                "2"};
        Path straight = dir.resolve("straight");
        KfacCommandsTest.run(concat(common, "--out", straight.toString(), "--checkpoint-every", "6"));
        Path interrupted = dir.resolve("interrupted");
        String[] firstHalf = concat(common, "--out", interrupted.toString(), "--checkpoint-every", "3");
        firstHalf[java.util.Arrays.asList(firstHalf).indexOf("--steps") + 1] = "3";
        KfacCommandsTest.run(firstHalf);
        // a resumed run takes its options from the checkpoint; only the step budget of the first part differs, so
        // rewrite it as the straight run's before resuming
        Path state = interrupted.resolve("trainer.json");
        Files.writeString(state, Files.readString(state).replaceFirst("\"steps\" : 3", "\"steps\" : 6"));
        KfacCommandsTest.run("train", "--corpus", corpus.toString(), "--out", interrupted.toString(), "--resume");
        try (CpuBackend backend = new CpuBackend(1)) {
            Model a = ModelCheckpoints.load(backend, straight, DType.F32);
            Model b = ModelCheckpoints.load(backend, interrupted, DType.F32);
            try (var wa = a.parameters(); var wb = b.parameters()) {
                assertEquals("olmo2", a.config().modelType());
                assertEquals(2, ((LlamaConfig) a.config()).kvHeads());
                assertEquals(88, ((LlamaConfig) a.config()).intermediateSize());   // 8/3 × 32 rounded up to 8
                for (String name : wa.names()) {
                    assertArrayEquals(wa.get(name).toDoubleArray(), wb.get(name).toDoubleArray(), name);
                }
            }
        }
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
