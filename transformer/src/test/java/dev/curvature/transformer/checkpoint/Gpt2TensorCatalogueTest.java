package dev.curvature.transformer.checkpoint;

import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reference: GPT-2 small has 124,439,808 parameters in 148 tensors (HF {@code GPT2Model.num_parameters()} for
 * {@code openai-community/gpt2}), and the (in, out) storage of HF {@code Conv1D} weights; tiny checkpoints written
 * with the names HF uses.
 */
class Gpt2TensorCatalogueTest {
    @TempDir
    Path dir;

    private static final Gpt2Config TINY = Gpt2Config.of(2, 2, 8, 11, 5);

    @Test
    void gpt2SmallCatalogueCountsTheKnownParameters() {
        Gpt2Config small = Gpt2Config.of(12, 12, 768, 50257, 1024);
        assertEquals(124_439_808L, Gpt2TensorCatalogue.parameterCount(small));
        assertEquals(148, Gpt2TensorCatalogue.expectedTensors(small).size());
    }

    @Test
    void conv1dWeightsAreExpectedAsInByOut() {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        Gpt2TensorCatalogue.expectedTensors(TINY).forEach(t -> shapes.put(t.name(), t.shape()));
        assertArrayEquals(new long[]{11, 8}, shapes.get("wte.weight"));
        assertArrayEquals(new long[]{5, 8}, shapes.get("wpe.weight"));
        assertArrayEquals(new long[]{8, 24}, shapes.get("h.1.attn.c_attn.weight"));
        assertArrayEquals(new long[]{24}, shapes.get("h.1.attn.c_attn.bias"));
        assertArrayEquals(new long[]{8, 8}, shapes.get("h.0.attn.c_proj.weight"));
        assertArrayEquals(new long[]{8, 32}, shapes.get("h.0.mlp.c_fc.weight"));
        assertArrayEquals(new long[]{32, 8}, shapes.get("h.0.mlp.c_proj.weight"));
        assertArrayEquals(new long[]{8}, shapes.get("ln_f.bias"));
    }

    /** A tiny checkpoint with every catalogue tensor (F32 zeros) under {@code prefix}, plus extras HF exports hold. */
    private Path writeTiny(String prefix, String replaced, long... replacementShape) throws IOException {
        Path file = dir.resolve("model-" + System.nanoTime() + ".safetensors");
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Gpt2TensorCatalogue.ExpectedTensor t : Gpt2TensorCatalogue.expectedTensors(TINY)) {
                long[] shape = t.name().equals(replaced) ? replacementShape : t.shape();
                if (shape != null) {
                    tensors.put(prefix + t.name(), Tensor.allocate(arena, DType.F32, shape));
                }
            }
            tensors.put(prefix + "h.0.attn.bias", Tensor.allocate(arena, DType.F32, 1, 1, 5, 5));
            SafetensorsWriter.write(file, tensors);
        }
        return file;
    }

    @Test
    void resolvesNamesWithAndWithoutTheTransformerPrefix() throws IOException {
        for (String prefix : new String[]{"", "transformer."}) {
            try (Checkpoint ckpt = Checkpoint.open(writeTiny(prefix, null))) {
                Map<String, TensorInfo> found = Gpt2TensorCatalogue.resolve(ckpt, TINY);
                assertEquals(Gpt2TensorCatalogue.expectedTensors(TINY).size(), found.size());
                assertEquals(prefix + "h.1.mlp.c_fc.weight", found.get("h.1.mlp.c_fc.weight").name());
                assertEquals("h.1.mlp.c_fc.weight", Gpt2TensorCatalogue.canonicalName(prefix + "h.1.mlp.c_fc.weight"));
            }
        }
    }

    @Test
    void shapeDisagreeingWithTheConfigNamesFileTensorExpectedAndActual() throws IOException {
        // c_attn stored as nn.Linear would store it, (3C, C): the Conv1D transpose forgotten
        Path file = writeTiny("transformer.", "h.1.attn.c_attn.weight", 24, 8);
        try (Checkpoint ckpt = Checkpoint.open(file)) {
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
                    () -> Gpt2TensorCatalogue.resolve(ckpt, TINY));
            assertEquals(file, e.file());
            assertEquals("transformer.h.1.attn.c_attn.weight", e.tensorName());
            String m = e.getMessage();
            assertTrue(m.contains(file.toString()) && m.contains("'transformer.h.1.attn.c_attn.weight'")
                    && m.contains("expected [8, 24], found [24, 8]") && m.contains("(in, out)"), m);
        }
    }

    @Test
    void missingTensorNamesBothCandidates() throws IOException {
        Path file = writeTiny("", "ln_f.bias", (long[]) null);
        try (Checkpoint ckpt = Checkpoint.open(file)) {
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
                    () -> Gpt2TensorCatalogue.resolve(ckpt, TINY));
            assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("'ln_f.bias'")
                    && e.getMessage().contains("'transformer.ln_f.bias'") && e.getMessage().contains("[8]"), e.getMessage());
        }
    }

    @Test
    void configWiderThanTheCheckpointIsCaught() throws IOException {
        Path file = writeTiny("", null);
        Gpt2Config wider = Gpt2Config.of(2, 2, 8, 12, 5);   // vocab 12 ≠ 11
        try (Checkpoint ckpt = Checkpoint.open(file)) {
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
                    () -> Gpt2TensorCatalogue.resolve(ckpt, wider));
            assertEquals("wte.weight", e.tensorName());
            assertTrue(e.getMessage().contains("expected [12, 8], found [11, 8]"), e.getMessage());
        }
    }
}
