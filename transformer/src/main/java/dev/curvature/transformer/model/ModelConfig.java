package dev.curvature.transformer.model;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What every model family's hyper-parameters tell the code that is not family-specific: the family, the context
 * length, the outputs (vocabulary), the parameter tensors and the linear layers. Each family's config is a record
 * read from (and written back to) Hugging Face's {@code config.json}.
 */
public interface ModelConfig {
    /** HF {@code model_type}: "gpt2", "llama", "olmo2". */
    String modelType();

    /** Positions a sequence may have (n_positions / max_position_embeddings). */
    int contextLength();

    /** Outputs per position: the vocabulary size. */
    int vocabSize();

    /** Transformer blocks. */
    int layers();

    /** Residual-stream width. */
    int hiddenSize();

    /** Width of the attention's query projection, H·head size (the attention products' inner width). */
    int attentionWidth();

    /** HF name → shape in the maths layout (linear weights (d_out, d_in)), in checkpoint order. */
    Map<String, long[]> parameterShapes();

    /** The linear layers (y = x Wᵀ) curvature can observe and edit, in forward order. */
    List<LinearLayer> linearLayers();

    /**
     * Bytes of the workspace {@code model(...).workspace(batch, time)} allocates in compute dtype {@code dtype}, by
     * formula (nothing is allocated): what a memory plan counts before a model is loaded. Equal to the workspace's
     * {@link Workspace#bytes()}.
     */
    long workspaceBytes(int batch, int time, DType dtype);

    /**
     * Whether the checkpoint stores this weight transposed, as (d_in, d_out), while the maths uses (d_out, d_in)
     * (GPT-2's {@code Conv1D} layers); converted on load and on save.
     */
    default boolean storedTransposed(String name) {
        return false;
    }

    /**
     * Whether {@code name} is a buffer Hugging Face exports beside the weights (a causal mask, cached rotary
     * frequencies, a tied head's copy): present in a checkpoint without being a parameter, so not "unused".
     */
    default boolean isExportedBuffer(String name) {
        return false;
    }

    /** The model of this shape over {@code weights} (allocated from this config), computing on {@code backend}. */
    Model model(Backend backend, ParameterSet weights);

    /** Writes this config as HF's {@code config.json}. */
    void write(Path configFile) throws IOException;

    /**
     * Writes this config for weights stored in {@code storage}: families whose config.json says so
     * ({@code torch_dtype}) record it; the others write {@link #write(Path)}.
     */
    default void write(Path configFile, DType storage) throws IOException {
        write(configFile);
    }

    /** Parameter count (a tied head is counted once). */
    default long parameterCount() {
        long n = 0;
        for (long[] shape : parameterShapes().values()) {
            long size = 1;
            for (long d : shape) {
                size *= d;
            }
            n += size;
        }
        return n;
    }

    // Sane upper bounds of a config's sizes, far above any published model (Llama 3.1 405B: 126 layers, width 16384,
    // MLP 53248, 128 heads, vocabulary 128256, 131072 positions). A config beyond them is refused with one line
    // naming the field, before any size derived from it is computed (so nothing overflows or is allocated).
    int MAX_LAYERS = 4096;
    int MAX_HEADS = 4096;
    int MAX_WIDTH = 1 << 17;
    int MAX_INNER = 1 << 20;
    int MAX_VOCABULARY = 1 << 24;
    int MAX_POSITIONS = 1 << 24;

    /** Refuses {@code value} of config field {@code field} above {@code max}. */
    static void requireAtMost(String field, int value, int max) {
        if (value > max) {
            throw new IllegalArgumentException(field + " " + value + " is out of range: at most " + max
                    + " is accepted (a sane bound far above published models)");
        }
    }
}
