package dev.curvature.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.curvature.transformer.checkpoint.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The first case of issue 17 from the command line: a config.json with fewer blocks than its checkpoint (n_layer 1
 * on the tiny GPT-2's 2 blocks) must not load the first block alone and let edit write a smaller model with exit 0:
 * it is refused naming the first tensor the config does not use, and no output is written.
 */
class ConfigMatchesCheckpointCommandTest {

    @Test
    void collectAndEditRefuseAConfigWithFewerBlocksThanItsCheckpoint(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path corpus = Files.writeString(dir.resolve("c.txt"), "In the beginning God created the heaven. ".repeat(8));
        Path factorsOfTheWholeModel = dir.resolve("whole.safetensors");
        CommandRun.stdout("collect", "--model", model.toString(), "--corpus", corpus.toString(), "--out",
                factorsOfTheWholeModel.toString(), "--time", "32", "--threads", "1");
        int tensors = tensorCount(model.resolve("model.safetensors"));
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = (ObjectNode) json.readTree(model.resolve("config.json").toFile());
        config.put("n_layer", 1);
        Files.writeString(model.resolve("config.json"), json.writeValueAsString(config));

        Path factors = dir.resolve("f.safetensors");
        CommandFailure collect = CommandFailure.of("collect", "--model", model.toString(), "--corpus",
                corpus.toString(), "--out", factors.toString(), "--time", "32", "--threads", "1");
        // a lenient loader collected over block 0 alone: edit with those factors (they match the model's digest);
        // otherwise with the whole model's
        Path out = dir.resolve("edited");
        CommandFailure edit = CommandFailure.of("edit", "--model", model.toString(), "--factors",
                (Files.exists(factors) ? factors : factorsOfTheWholeModel).toString(), "--out", out.toString(),
                "--rho", "0.5", "--layers", "h.0.mlp.c_fc");
        String written = Files.exists(out.resolve("model.safetensors"))
                ? "; wrote " + tensorCount(out.resolve("model.safetensors")) + " of the input's " + tensors + " tensors"
                : "";
        String outcome = "collect: exit " + collect.code() + (Files.exists(factors) ? " (factors written)" : "")
                + ": " + collect.message().strip() + "\nedit: exit " + edit.code() + written + ": "
                + edit.message().strip();
        for (CommandFailure f : new CommandFailure[]{collect, edit}) {
            assertTrue(f.code() != 0 && f.message().contains("'h.1.") && f.message().contains("model.safetensors"),
                    outcome);
        }
        assertFalse(Files.exists(factors) || Files.exists(out), outcome);
        assertEquals(28, tensors, "the tiny GPT-2: 4 + 12 per block");
    }

    static int tensorCount(Path file) throws Exception {
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            return st.names().size();
        }
    }
}
