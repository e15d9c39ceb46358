package dev.curvature.transformer.gpt2;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.NonFiniteTensorException;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.Checkpoint;
import dev.curvature.transformer.checkpoint.CheckpointFormatException;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.checkpoint.Gpt2TensorCatalogue;
import dev.curvature.transformer.checkpoint.SafetensorsWriter;
import dev.curvature.transformer.checkpoint.TensorInfo;
import dev.curvature.transformer.model.ParameterSet;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * GPT-2 models in the Hugging Face layout: a directory with {@code config.json} and {@code model.safetensors}
 * (or a sharded index). HF's {@code Conv1D} weights are stored (d_in, d_out); they are transposed here, on load and
 * on save, so the maths always sees W as (d_out, d_in).
 */
public final class Gpt2Checkpoints {
    private Gpt2Checkpoints() {
    }

    /** Loads {@code directory} into a model computing in {@code dtype} (F32 or F64) on {@code backend}. */
    public static Gpt2Model load(Backend backend, Path directory, DType dtype) throws IOException {
        Gpt2Config config = Gpt2Config.read(directory.resolve("config.json"));
        ParameterSet weights = ParameterSet.allocate(backend, config, dtype);
        try (Checkpoint checkpoint = Checkpoint.open(directory)) {
            Map<String, TensorInfo> found = Gpt2TensorCatalogue.resolve(checkpoint, config);
            for (Map.Entry<String, TensorInfo> e : found.entrySet()) {
                String name = e.getKey();
                Tensor stored = checkpoint.tensor(e.getValue().name());
                Tensor target = weights.get(name);
                backend.copy(target, Gpt2TensorCatalogue.storedTransposed(name) ? stored.transpose(0, 1) : stored);
                try {
                    backend.requireFinite(target, "loading the model");
                } catch (NonFiniteTensorException nonFinite) {
                    throw new CheckpointFormatException(e.getValue().file(), e.getValue().name(), nonFinite.getMessage());
                }
            }
        } catch (IOException | RuntimeException failure) {
            weights.close();
            throw failure;
        }
        return new Gpt2Model(backend, weights);
    }

    /**
     * Writes {@code model} to {@code directory} as {@code config.json} + {@code model.safetensors} with tensors in
     * {@code storage} dtype (F32, BF16, F16 or F64), in HF layout and naming, atomically per file.
     */
    public static void save(Gpt2Model model, Path directory, DType storage, Map<String, String> metadata)
            throws IOException {
        Files.createDirectories(directory);
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");   // what HF writes; some loaders check it
        meta.putAll(metadata);
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (Map.Entry<String, Tensor> e : model.weights().all().entrySet()) {
                Tensor w = e.getValue();
                boolean transposed = Gpt2TensorCatalogue.storedTransposed(e.getKey());
                long[] shape = transposed ? new long[]{w.dim(1), w.dim(0)} : w.shape();
                Tensor copy = Tensor.allocate(arena, storage, shape);
                model.backend().copy(copy, transposed ? w.transpose(0, 1) : w);   // to host memory, in storage dtype
                out.put(e.getKey(), copy);
            }
            SafetensorsWriter.write(directory.resolve(Checkpoint.SINGLE_FILE_NAME), out, meta);
        }
        model.config().write(directory.resolve("config.json"));
    }

    /** The dtype the checkpoint in {@code directory} stores its weights in (that of the token embedding). */
    public static DType storedDtype(Path directory) throws IOException {
        Gpt2Config config = Gpt2Config.read(directory.resolve("config.json"));
        try (Checkpoint checkpoint = Checkpoint.open(directory)) {
            return Gpt2TensorCatalogue.resolve(checkpoint, config).get("wte.weight").dtype();
        }
    }
}
