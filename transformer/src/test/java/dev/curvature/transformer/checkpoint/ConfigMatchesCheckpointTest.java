package dev.curvature.transformer.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.gpt2.Gpt2Checkpoints;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.llama.LlamaConfig;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.train.ModelInitializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A checkpoint must match its config exactly (issue 17): every expected tensor with its shape, and no tensor left
 * unused; checked from the headers before any parameter is allocated, and config sizes bounded so that an absurd
 * one is one clear error, not an OutOfMemoryError.
 */
class ConfigMatchesCheckpointTest {

    static Path gpt2(Path dir, int blocks) throws Exception {
        try (CpuBackend backend = new CpuBackend(1);
             ParameterSet weights = ParameterSet.allocate(backend, Gpt2Config.of(blocks, 2, 16, 256, 16), DType.F32)) {
            ModelInitializer.initialize(weights, 1);
            Gpt2Checkpoints.save(new Gpt2Model(backend, weights), dir, DType.F32, Map.of());
        }
        return dir;
    }

    static void setConfig(Path dir, String field, long value) throws Exception {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = (ObjectNode) json.readTree(Files.readString(dir.resolve("config.json")));
        root.put(field, value);
        Files.writeString(dir.resolve("config.json"), json.writeValueAsString(root));
    }

    @Test
    void fewerGpt2BlocksInTheConfigThanInTheCheckpointAreRefusedNamingTheFirstUnusedTensor(@TempDir Path dir)
            throws Exception {
        Path model = gpt2(dir.resolve("m"), 4);
        setConfig(model, "n_layer", 2);
        try (CpuBackend backend = new CpuBackend(1)) {
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
                    () -> ModelCheckpoints.load(backend, model, DType.F32));
            assertTrue(e.getMessage().contains("'h.2.") && e.getMessage().contains("not used")
                    && e.getMessage().contains("model.safetensors"), e.getMessage());
        }
    }

    @Test
    void aHugeNLayerIsRefusedBeforeAnythingIsAllocated(@TempDir Path dir) throws Exception {
        Path model = gpt2(dir.resolve("m"), 2);
        setConfig(model, "n_layer", 100000);
        try (CpuBackend backend = new CpuBackend(1)) {
            CheckpointFormatException e = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> assertThrows(
                    CheckpointFormatException.class, () -> ModelCheckpoints.load(backend, model, DType.F32)));
            assertTrue(e.getMessage().contains("n_layer") && e.getMessage().contains("config.json"), e.getMessage());
        }
    }

    @Test
    void anNLayerThatWouldOverflowIsOneClearError(@TempDir Path dir) throws Exception {
        Path model = gpt2(dir.resolve("m"), 2);
        setConfig(model, "n_layer", Integer.MAX_VALUE);
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
                () -> ModelCheckpoints.readConfig(model));
        assertTrue(e.getMessage().contains("n_layer " + Integer.MAX_VALUE), e.getMessage());
    }

    @Test
    void aMissingBlockIsNamedBeforeAllocation(@TempDir Path dir) throws Exception {
        Path model = gpt2(dir.resolve("m"), 2);
        setConfig(model, "n_layer", 3);
        try (CpuBackend backend = new CpuBackend(1)) {
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
                    () -> ModelCheckpoints.load(backend, model, DType.F32));
            assertTrue(e.getMessage().contains("'h.2.ln_1.weight'") && e.getMessage().contains("missing"),
                    e.getMessage());
        }
    }

    @Test
    void fewerLlamaLayersInTheConfigThanInTheCheckpointAreRefused(@TempDir Path dir) throws Exception {
        Path model = dir.resolve("llama");
        LlamaConfig config = LlamaConfig.of("llama", 16, 32, 3, 2, 1, 64, 16, false);
        try (CpuBackend backend = new CpuBackend(1);
             ParameterSet weights = ParameterSet.allocate(backend, config, DType.F32)) {
            ModelInitializer.initialize(weights, 2);
            ModelCheckpoints.save(config.model(backend, weights), model, ModelCheckpoints.Layout.single(DType.F32),
                    Map.of());
        }
        setConfig(model, "num_hidden_layers", 2);
        try (CpuBackend backend = new CpuBackend(1)) {
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
                    () -> ModelCheckpoints.load(backend, model, DType.F32));
            assertTrue(e.getMessage().contains("'model.layers.2.") && e.getMessage().contains("not used"),
                    e.getMessage());
        }
    }

    @Test
    void aMatchingCheckpointStillLoads(@TempDir Path dir) throws Exception {
        Path model = gpt2(dir.resolve("m"), 2);
        try (CpuBackend backend = new CpuBackend(1)) {
            var loaded = ModelCheckpoints.load(backend, model, DType.F32);
            assertEquals(2, loaded.config().layers());
            loaded.parameters().close();
        }
    }
}
