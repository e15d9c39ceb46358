package dev.curvature.transformer.model;

/**
 * One linear layer y = x Wᵀ of a model, as observers and the edit see it.
 *
 * @param name      HF module name without ".weight" (e.g. "h.3.mlp.c_fc", "model.layers.3.mlp.gate_proj")
 * @param block     the transformer block it belongs to
 * @param role      what it does there
 * @param dIn       input width (columns of W)
 * @param dOut      output width (rows of W)
 * @param inputFrom the layer whose input this layer shares (same x rows, so the same factor A), or null
 */
public record LinearLayer(String name, int block, LinearRole role, int dIn, int dOut, String inputFrom) {
    public LinearLayer {
        if (name == null || name.isEmpty() || dIn < 1 || dOut < 1 || block < 0 || role == null) {
            throw new IllegalArgumentException("bad linear layer " + name + " (block " + block + ", " + role + ", "
                    + dOut + " × " + dIn + ")");
        }
    }

    /** A layer with its own input. */
    public LinearLayer(String name, int block, LinearRole role, int dIn, int dOut) {
        this(name, block, role, dIn, dOut, null);
    }

    /**
     * The layers that see the same input rows share one factor A: this names the group, the layer whose input it
     * shares ({@link #inputFrom}) or itself. Collected layers of one group share the first one's A, whichever
     * of them are selected.
     */
    public String inputGroup() {
        return inputFrom != null ? inputFrom : name;
    }

    /** The HF name of its weight tensor. */
    public String weightName() {
        return name + ".weight";
    }
}
