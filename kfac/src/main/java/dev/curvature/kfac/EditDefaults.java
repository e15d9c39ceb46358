package dev.curvature.kfac;

import dev.curvature.transformer.model.LinearLayer;
import dev.curvature.transformer.model.LinearRole;
import dev.curvature.transformer.model.ModelConfig;

import java.util.ArrayList;
import java.util.List;

/**
 * The defaults of collection and edit for a model family, in one place (ALGORITHMS.md §1.3). For the Llama family
 * (model_type "llama", "olmo2") they are the paper's main setting (Merullo et al. 2025, §5.1): edit gate_proj and
 * up_proj of three late blocks — OLMo-2 7B (32 blocks): 23–25; OLMo-2 1B (16 blocks): 13–15; another depth L: the
 * three blocks from round(0.72·L), clamped to the model — at ρ = 0.6, down_proj untouched; collect with labels
 * sampled from the model (the true Fisher) in windows of min(512, context), for gate, up and down of those blocks
 * (what the edit and the paper's analysis need; every MLP projection of a 7B model would need ~315 GiB of factors).
 * GPT-2 keeps the engine's own defaults:
 * every MLP projection at ρ = 0.9, gold labels, windows of min(256, context).
 *
 * @param layers     the edit's layer patterns ({@link LayerSelection#parse}): "mlp", or the paper's layer names
 * @param collectLayers the collection's layer patterns: "mlp", or every MLP projection of the edited blocks
 * @param rho        the edit's keep-mass ρ
 * @param labels     collection labels
 * @param time       collection window length
 * @param firstBlock the first edited block (-1: every block, the "mlp" default)
 * @param lastBlock  the last edited block
 * @param paper      whether these are the paper's settings (then {@link #describeEdit()} says so)
 * @param modelType  HF model_type they were chosen for
 * @param blocks     the model's transformer blocks
 */
public record EditDefaults(String layers, String collectLayers, double rho, KfacCollector.Labels labels, int time, int firstBlock,
                           int lastBlock, boolean paper, String modelType, int blocks) {
    /** Relative depth of the paper's first edited block (23 of 32 in OLMo-2 7B). */
    static final double PAPER_RELATIVE_DEPTH = 0.72;

    /** The defaults for a model of {@code config}. */
    public static EditDefaults of(ModelConfig config) {
        String type = config.modelType();
        int blocks = config.layers();
        if (!type.equals("llama") && !type.equals("olmo2")) {
            return new EditDefaults(LayerSelection.DEFAULT, LayerSelection.DEFAULT, 0.9, KfacCollector.Labels.GOLD,
                    Math.min(config.contextLength(), 256), -1, -1, false, type, blocks);
        }
        int first = paperFirstBlock(blocks);
        int last = Math.min(blocks - 1, first + 2);
        List<String> names = new ArrayList<>();
        List<String> collected = new ArrayList<>();
        for (LinearLayer layer : config.linearLayers()) {
            boolean gateOrUp = layer.role() == LinearRole.MLP_GATE || layer.role() == LinearRole.MLP_IN;
            boolean inBlocks = layer.block() >= first && layer.block() <= last;
            if (gateOrUp && inBlocks) {
                names.add(layer.name());
            }
            if (layer.role().isMlp() && inBlocks) {
                collected.add(layer.name());
            }
        }
        return new EditDefaults(String.join(",", names), String.join(",", collected), 0.6, KfacCollector.Labels.SAMPLED,
                Math.min(config.contextLength(), 512), first, last, true, type, blocks);
    }

    /** The first of the paper's three edited blocks for a model of {@code blocks} blocks. */
    static int paperFirstBlock(int blocks) {
        if (blocks == 32) {
            return 23;      // OLMo-2 7B, paper §5.1 / App. D
        }
        if (blocks == 16) {
            return 13;      // OLMo-2 1B
        }
        long first = Math.round(PAPER_RELATIVE_DEPTH * blocks);
        return (int) Math.max(0, Math.min(first, blocks - 3L));
    }

    /**
     * "defaults for olmo2 (16 layers): blocks 13-15 gate_proj+up_proj, rho 0.6 (paper §5.1); override with
     * --layers/--rho", or null where the defaults are the engine's own (GPT-2: nothing to announce).
     */
    public String describeEdit() {
        if (!paper) {
            return null;
        }
        return String.format(java.util.Locale.ROOT, "defaults for %s (%d layers): blocks %d-%d gate_proj+up_proj, "
                + "rho %s (paper §5.1); override with --layers/--rho", modelType, blocks, firstBlock, lastBlock, rho);
    }

    /**
     * "defaults for olmo2 (16 layers): --layers blocks 13-15 gate_proj+up_proj+down_proj, --labels SAMPLED, --time 512
     * (paper §5.1); override with --layers/--labels/--time", or null.
     */
    public String describeCollect() {
        if (!paper) {
            return null;
        }
        return "defaults for " + modelType + " (" + blocks + " layers): --layers blocks " + firstBlock + "-" + lastBlock
                + " gate_proj+up_proj+down_proj, --labels " + labels + ", --time " + time
                + " (paper §5.1); override with --layers/--labels/--time";
    }
}
