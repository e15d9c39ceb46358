package dev.curvature.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.gpt2.Gpt2Checkpoints;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.train.Gpt2Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

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
        assertEquals(6, Gpt2Trainer.readState(out).step());
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
}
