package dev.curvature.transformer.llama;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.ConfigJson;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.model.Model;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sharded bf16 checkpoints: src/test/resources/llama-tiny-bf16-sharded (two shards + index, written by PyTorch from
 * llama-tiny's float32 weights) loads to exactly the bf16 rounding of the float32 file, bit for bit; and a model
 * saved in that layout (an edited weight included) reloads to the bf16 rounding of what was saved, shard for shard.
 * Reference rounding: round-to-nearest-even on the float bits, written out here.
 */
class ShardedBf16CheckpointTest {
    static final CpuBackend backend = SharedCpuBackend.get();

    /** float → bf16 → float, round to nearest even (finite inputs). */
    static float bf16(float x) {
        int bits = Float.floatToRawIntBits(x);
        int rounded = (bits + 0x7FFF + ((bits >>> 16) & 1)) & 0xFFFF0000;
        return Float.intBitsToFloat(rounded);
    }

    /** Every element through {@link #bf16}. */
    static float[] bf16(float[] values) {
        float[] rounded = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            rounded[i] = bf16(values[i]);
        }
        return rounded;
    }

    static float[] floats(Tensor t) {
        double[] d = t.toDoubleArray();
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }

    @Test
    void shardedBf16LoadsToTheBf16RoundingOfTheFloat32File() throws Exception {
        Path single = LlamaGoldenParityTest.fixture("llama-tiny");
        Path sharded = LlamaGoldenParityTest.fixture("llama-tiny-bf16-sharded");
        assertEquals(DType.BF16, ModelCheckpoints.layout(sharded).storage());
        Model f32 = ModelCheckpoints.load(backend, single, DType.F32);
        Model bf16 = ModelCheckpoints.load(backend, sharded, DType.F32);
        try (var a = f32.parameters(); var b = bf16.parameters()) {
            for (String name : a.names()) {
                assertArrayEquals(bf16(floats(a.get(name))), floats(b.get(name)), name);
            }
        }
    }

    @Test
    void anEditedModelSavedAsBf16ShardsReloadsWithTheEditIntact(@TempDir Path out) throws Exception {
        Path sharded = LlamaGoldenParityTest.fixture("llama-tiny-bf16-sharded");
        ModelCheckpoints.Layout layout = ModelCheckpoints.layout(sharded);
        Model model = ModelCheckpoints.load(backend, LlamaGoldenParityTest.fixture("llama-tiny"), DType.F32);
        String edited = "model.layers.1.mlp.gate_proj.weight";
        try (var weights = model.parameters()) {
            backend.scale(weights.get(edited), weights.get(edited), 0.37);    // stands in for an edit
            ModelCheckpoints.save(model, out, layout, Map.of("curvature.edit", "test"));
            assertEquals(layout, ModelCheckpoints.layout(out));
            assertEquals(ConfigJson.read(sharded.resolve("model.safetensors.index.json")).get("weight_map"),
                    ConfigJson.read(out.resolve("model.safetensors.index.json")).get("weight_map"));
            assertEquals("bfloat16", ConfigJson.read(out.resolve("config.json")).get("torch_dtype").textValue());
            assertTrue(Files.isRegularFile(out.resolve("model-00001-of-00002.safetensors"))
                    && Files.isRegularFile(out.resolve("model-00002-of-00002.safetensors"))
                    && !Files.exists(out.resolve("model.safetensors")), "the same two shards, no single file");
            Model reloaded = ModelCheckpoints.load(backend, out, DType.F32);
            try (var back = reloaded.parameters()) {
                for (String name : weights.names()) {
                    assertArrayEquals(bf16(floats(weights.get(name))), floats(back.get(name)), name);
                }
            }
        }
    }

    @Test
    void savingAnotherLayoutIntoTheSameDirectoryLeavesNoStaleCheckpointBehind(@TempDir Path out) throws Exception {
        // reference: the values written last; a stale index would otherwise win over a new single file on load
        Path sharded = LlamaGoldenParityTest.fixture("llama-tiny-bf16-sharded");
        Model model = ModelCheckpoints.load(backend, LlamaGoldenParityTest.fixture("llama-tiny"), DType.F32);
        try (var weights = model.parameters()) {
            ModelCheckpoints.save(model, out, ModelCheckpoints.layout(sharded), Map.of());
            backend.fill(weights.get("model.embed_tokens.weight"), 0.5);
            ModelCheckpoints.save(model, out, ModelCheckpoints.Layout.single(DType.F32), Map.of());
            assertTrue(!Files.exists(out.resolve("model.safetensors.index.json"))
                    && !Files.exists(out.resolve("model-00001-of-00002.safetensors")), "the shards are gone");
            Model single = ModelCheckpoints.load(backend, out, DType.F32);
            try (var reloaded = single.parameters()) {
                assertEquals(0.5, reloaded.get("model.embed_tokens.weight").toDoubleArray()[7]);
            }
            ModelCheckpoints.save(model, out, ModelCheckpoints.layout(sharded), Map.of());
            assertTrue(!Files.exists(out.resolve("model.safetensors")), "the single file is gone");
        }
    }
}
