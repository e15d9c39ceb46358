package dev.curvature.kfac;

import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.llama.LlamaConfig;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The family defaults. Reference: ALGORITHMS.md §1.3 (paper §5.1) and the engine's GPT-2 defaults. */
class EditDefaultsTest {
    @Test
    void olmo2SevenBShapeEditsGateAndUpOfBlocks23To25AtRhoPointSix() {
        EditDefaults d = EditDefaults.of(LlamaConfig.of("olmo2", 64, 96, 32, 4, 4, 100, 4096, false));
        assertEquals(23, d.firstBlock());
        assertEquals(25, d.lastBlock());
        assertEquals("model.layers.23.mlp.gate_proj,model.layers.23.mlp.up_proj,model.layers.24.mlp.gate_proj,"
                + "model.layers.24.mlp.up_proj,model.layers.25.mlp.gate_proj,model.layers.25.mlp.up_proj", d.layers());
        assertEquals(0.6, d.rho());
        assertEquals(String.join(",", java.util.stream.IntStream.rangeClosed(23, 25).boxed().flatMap(b -> java.util.stream
                .Stream.of("gate_proj", "up_proj", "down_proj").map(p -> "model.layers." + b + ".mlp." + p)).toList()),
                d.collectLayers(), "collection: gate, up and down of the edited blocks");
        assertEquals(KfacCollector.Labels.SAMPLED, d.labels());
        assertEquals(512, d.time());
        assertEquals("defaults for olmo2 (32 layers): blocks 23-25 gate_proj+up_proj, rho 0.6 (paper §5.1); "
                + "override with --layers/--rho", d.describeEdit());
    }

    @Test
    void olmo2OneBShapeEditsBlocks13To15AndOtherDepthsTheSameRelativeDepth() {
        EditDefaults oneB = EditDefaults.of(LlamaConfig.of("olmo2", 32, 48, 16, 4, 4, 100, 64, true));
        assertEquals("defaults for olmo2 (16 layers): blocks 13-15 gate_proj+up_proj, rho 0.6 (paper §5.1); "
                + "override with --layers/--rho", oneB.describeEdit());
        assertEquals(64, oneB.time(), "min(512, context)");
        assertEquals(18, EditDefaults.paperFirstBlock(25));   // round(0.72 · 25) = 18
        assertEquals(20, EditDefaults.paperFirstBlock(28));   // round(20.16)
        assertEquals(1, EditDefaults.paperFirstBlock(4));     // round(2.88) = 3, clamped to 4 − 3
        EditDefaults two = EditDefaults.of(LlamaConfig.of("llama", 32, 48, 2, 4, 2, 256, 64, false));
        assertEquals(0, two.firstBlock());
        assertEquals(1, two.lastBlock());
        assertEquals("model.layers.0.mlp.gate_proj,model.layers.0.mlp.up_proj,model.layers.1.mlp.gate_proj,"
                + "model.layers.1.mlp.up_proj", two.layers());
    }

    @Test
    void gpt2KeepsTheEnginesDefaultsAndAnnouncesNothing() {
        EditDefaults d = EditDefaults.of(Gpt2Config.of(2, 2, 32, 256, 1024));
        assertEquals(LayerSelection.DEFAULT, d.layers());
        assertEquals(LayerSelection.DEFAULT, d.collectLayers());
        assertEquals(0.9, d.rho());
        assertEquals(KfacCollector.Labels.GOLD, d.labels());
        assertEquals(256, d.time());
        assertNull(d.describeEdit());
        assertNull(d.describeCollect());
    }
}
