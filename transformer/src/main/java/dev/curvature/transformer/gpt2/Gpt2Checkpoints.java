package dev.curvature.transformer.gpt2;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.checkpoint.CheckpointFormatException;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.model.Model;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * GPT-2 models in the Hugging Face layout, through {@link ModelCheckpoints}: HF's {@code Conv1D} weights are stored
 * (d_in, d_out) and transposed on load and on save, so the maths always sees W as (d_out, d_in).
 */
public final class Gpt2Checkpoints {
    private Gpt2Checkpoints() {
    }

    /** Loads {@code directory}, which must hold a GPT-2, into a model computing in {@code dtype} (F32 or F64). */
    public static Gpt2Model load(Backend backend, Path directory, DType dtype) throws IOException {
        Model model = ModelCheckpoints.load(backend, directory, dtype);
        if (model instanceof Gpt2Model gpt2) {
            return gpt2;
        }
        model.parameters().close();
        throw new CheckpointFormatException(directory.resolve("config.json"), null, "holds a "
                + model.config().modelType() + " model, not a GPT-2");
    }

    /**
     * Writes {@code model} to {@code directory} as {@code config.json} + {@code model.safetensors} with tensors in
     * {@code storage} dtype (F32, BF16, F16 or F64), in HF layout and naming, atomically per file.
     */
    public static void save(Model model, Path directory, DType storage, Map<String, String> metadata)
            throws IOException {
        ModelCheckpoints.save(model, directory, ModelCheckpoints.Layout.single(storage), metadata);
    }

    /** The dtype the checkpoint in {@code directory} stores its weights in. */
    public static DType storedDtype(Path directory) throws IOException {
        return ModelCheckpoints.storedDtype(directory);
    }
}
