package dev.curvature.transformer.checkpoint;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.NonFiniteTensorException;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.llama.LlamaConfig;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.ModelConfig;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.vit.VitConfig;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Models of every family in the Hugging Face layout: a directory with {@code config.json} and
 * {@code model.safetensors} or shards behind {@code model.safetensors.index.json}, stored in F32, BF16, F16 or F64.
 * {@code model_type} picks the family; weights are converted to the compute dtype on load and back to a storage dtype
 * (and shard layout) on save, so an edited model is written as the original was.
 */
public final class ModelCheckpoints {
    private ModelCheckpoints() {
    }

    /** How a checkpoint is stored: the dtype of its weights, and its shards (tensor → shard file; null: one file). */
    public record Layout(DType storage, Map<String, String> shards) {
        /** One {@code model.safetensors} in {@code storage}. */
        public static Layout single(DType storage) {
            return new Layout(storage, null);
        }
    }

    /** The config of the model in {@code directory}, by its {@code model_type} ("gpt2" when absent, as HF's GPT-2). */
    public static ModelConfig readConfig(Path directory) throws IOException {
        Path file = directory.resolve("config.json");
        ObjectNode root = ConfigJson.read(file);
        String type = ConfigJson.stringField(file, root, "model_type", "gpt2");
        return switch (type) {
            case "gpt2" -> Gpt2Config.read(file);
            case "llama", "olmo2" -> LlamaConfig.read(file);
            case "vit" -> VitConfig.read(file);
            default -> throw new CheckpointFormatException(file, null, "model_type '" + type + "' is not supported "
                    + "(supported: gpt2, llama, olmo2, vit)");
        };
    }

    /**
     * The config of the model in {@code directory}, checked against its checkpoint's headers ({@link #resolve}): what
     * a memory plan may be computed from. A config.json that asks for more than the checkpoint holds (n_layer 48 on a
     * 2-block file, say) is refused here, naming the file, the tensor and the config's sizes, rather than reported as
     * a plan too large for memory. A directory holding config.json alone (the shapes of models/shapes, planned with
     * --dry-run) has nothing to check against: its config is returned, and loading it fails later, naming what is
     * missing.
     */
    public static ModelConfig readMatchingConfig(Path directory) throws IOException {
        ModelConfig config = readConfig(directory);
        if (!Files.exists(directory.resolve(Checkpoint.SINGLE_FILE_NAME))
                && !Files.exists(directory.resolve(Checkpoint.INDEX_FILE_NAME))) {
            return config;
        }
        try (Checkpoint checkpoint = Checkpoint.open(directory)) {
            resolve(checkpoint, config);
        }
        return config;
    }

    /**
     * Loads {@code directory} into a model computing in {@code dtype} (F32 or F64) on {@code backend}. The checkpoint
     * is matched against the config from its headers alone ({@link #resolve}) before any parameter is allocated.
     */
    public static Model load(Backend backend, Path directory, DType dtype) throws IOException {
        ModelConfig config = readConfig(directory);
        try (Checkpoint checkpoint = Checkpoint.open(directory)) {
            Map<String, TensorInfo> resolved = resolve(checkpoint, config);
            ParameterSet weights = ParameterSet.allocate(backend, config, dtype);
            try {
                copyInto(backend, weights, checkpoint, config, resolved);
            } catch (IOException | RuntimeException failure) {
                weights.close();
                throw failure;
            }
            return config.model(backend, weights);
        }
    }

    /** Copies every resolved tensor into {@code weights} (converting dtype, transposing Conv1D); NaN/Inf refused. */
    private static void copyInto(Backend backend, ParameterSet weights, Checkpoint checkpoint, ModelConfig config,
                                 Map<String, TensorInfo> resolved) throws IOException {
        for (Map.Entry<String, TensorInfo> e : resolved.entrySet()) {
            String name = e.getKey();
            Tensor stored = checkpoint.tensor(e.getValue().name());
            Tensor target = weights.get(name);
            backend.copy(target, config.storedTransposed(name) ? stored.transpose(0, 1) : stored);
            try {
                backend.requireFinite(target, "loading the model");
            } catch (NonFiniteTensorException nonFinite) {
                throw new CheckpointFormatException(e.getValue().file(), e.getValue().name(), nonFinite.getMessage());
            }
        }
    }

    /**
     * Finds every parameter of {@code config} in {@code checkpoint} and checks its stored shape.
     *
     * @return parameter name → the stored tensor's info, in parameter order
     * @throws CheckpointFormatException naming the file and tensor when one is missing or has the wrong shape
     */
    public static Map<String, TensorInfo> resolve(Checkpoint checkpoint, ModelConfig config)
            throws CheckpointFormatException {
        Map<String, TensorInfo> found = config instanceof Gpt2Config gpt2 ? Gpt2TensorCatalogue.resolve(checkpoint, gpt2)
                : resolveByShapes(checkpoint, config);
        requireAllUsed(checkpoint, config, found);
        return found;
    }

    /**
     * Refuses a checkpoint holding tensors the config does not use (a config with fewer blocks than the checkpoint,
     * say), naming the first such tensor. Buffers HF exports beside the weights are not weights and are allowed: GPT-2's
     * causal-mask {@code h.{i}.attn.bias} / {@code masked_bias} and a tied {@code lm_head.weight}; Llama's
     * {@code rotary_emb.inv_freq} and, with tied embeddings, {@code lm_head.weight}.
     */
    private static void requireAllUsed(Checkpoint checkpoint, ModelConfig config, Map<String, TensorInfo> found)
            throws CheckpointFormatException {
        Set<String> used = new HashSet<>();
        found.values().forEach(info -> used.add(info.name()));
        List<String> unused = new ArrayList<>();
        for (String name : new TreeSet<>(checkpoint.names())) {
            if (!used.contains(name) && !config.isExportedBuffer(name)) {
                unused.add(name);
            }
        }
        if (!unused.isEmpty()) {
            TensorInfo first = checkpoint.info(unused.get(0));
            throw new CheckpointFormatException(first.file(), first.name(), "is not used by the " + config.modelType()
                    + " config (" + config.layers() + " blocks); " + unused.size() + " tensor(s) of the checkpoint are "
                    + "not used: config.json does not describe this checkpoint");
        }
    }

    private static Map<String, TensorInfo> resolveByShapes(Checkpoint checkpoint, ModelConfig config)
            throws CheckpointFormatException {
        Map<String, TensorInfo> found = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : config.parameterShapes().entrySet()) {
            String name = e.getKey();
            if (!checkpoint.contains(name)) {
                throw new CheckpointFormatException(checkpoint.path(), name, "is missing; the " + config.modelType()
                        + " config expects shape " + Arrays.toString(e.getValue()));
            }
            TensorInfo info = checkpoint.info(name);
            if (!Arrays.equals(info.shape(), e.getValue())) {
                throw new CheckpointFormatException(info.file(), name, "shape disagrees with the " + config.modelType()
                        + " config: expected " + Arrays.toString(e.getValue()) + ", found "
                        + Arrays.toString(info.shape()));
            }
            found.put(name, info);
        }
        return found;
    }

    /** How the checkpoint in {@code directory} is stored: its first parameter's dtype, and its shard map if any. */
    public static Layout layout(Path directory) throws IOException {
        ModelConfig config = readConfig(directory);
        try (Checkpoint checkpoint = Checkpoint.open(directory)) {
            Map<String, TensorInfo> found = resolve(checkpoint, config);
            DType storage = found.values().iterator().next().dtype();
            if (!(checkpoint instanceof ShardedCheckpoint)) {
                return Layout.single(storage);
            }
            Map<String, String> shards = new TreeMap<>();
            found.forEach((name, info) -> shards.put(name, info.file().getFileName().toString()));
            return new Layout(storage, shards);
        }
    }

    /**
     * Writes {@code model} to {@code directory} in HF naming and layout: {@code config.json} (with
     * {@code torch_dtype} set for Llama-family configs) and one {@code model.safetensors}, or the shards of
     * {@code layout} and their {@code model.safetensors.index.json}, tensors in the layout's storage dtype; every file
     * is replaced atomically.
     */
    public static void save(Model model, Path directory, Layout layout, Map<String, String> metadata)
            throws IOException {
        Files.createDirectories(directory);
        if (layout.shards() == null) {
            removeShardIndex(directory);     // an index left there would win over the new single file on load
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");   // what HF writes; some loaders check it
        meta.putAll(metadata);
        ModelConfig config = model.config();
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Map<String, Tensor>> files = new TreeMap<>();
            long totalBytes = 0;
            for (Map.Entry<String, Tensor> e : model.parameters().all().entrySet()) {
                Tensor w = e.getValue();
                boolean transposed = config.storedTransposed(e.getKey());
                long[] shape = transposed ? new long[]{w.dim(1), w.dim(0)} : w.shape();
                Tensor copy = Tensor.allocate(arena, layout.storage(), shape);
                model.backend().copy(copy, transposed ? w.transpose(0, 1) : w);   // to host memory, in storage dtype
                String file = shardOf(layout, e.getKey());
                files.computeIfAbsent(file, f -> new LinkedHashMap<>()).put(e.getKey(), copy);
                totalBytes += copy.size() * layout.storage().byteSize();
            }
            for (Map.Entry<String, Map<String, Tensor>> f : files.entrySet()) {
                SafetensorsWriter.write(directory.resolve(f.getKey()), f.getValue(), meta);
            }
            if (layout.shards() != null) {
                writeIndex(directory.resolve(Checkpoint.INDEX_FILE_NAME), files, totalBytes);
                Files.deleteIfExists(directory.resolve(Checkpoint.SINGLE_FILE_NAME));   // a stale single file
            }
        }
        config.write(directory.resolve("config.json"), layout.storage());
    }

    /** Deletes {@code directory}'s shard index and the shard files it names (inside the directory only). */
    private static void removeShardIndex(Path directory) throws IOException {
        Path index = directory.resolve(Checkpoint.INDEX_FILE_NAME);
        if (!Files.exists(index)) {
            return;
        }
        Path root = directory.toAbsolutePath().normalize();
        var weightMap = ConfigJson.read(index).get("weight_map");
        Files.delete(index);
        if (weightMap != null && weightMap.isObject()) {
            for (var shard : weightMap) {
                Path file = root.resolve(shard.asText()).normalize();
                if (file.getParent() != null && file.getParent().equals(root)) {
                    Files.deleteIfExists(file);
                }
            }
        }
    }

    private static String shardOf(Layout layout, String name) {
        if (layout.shards() == null) {
            return Checkpoint.SINGLE_FILE_NAME;
        }
        String file = layout.shards().get(name);
        if (file == null) {
            throw new IllegalArgumentException("the shard layout names no file for tensor " + name);
        }
        return file;
    }

    private static void writeIndex(Path index, Map<String, Map<String, Tensor>> files, long totalBytes)
            throws IOException {
        ObjectNode root = ConfigJson.object();
        root.putObject("metadata").put("total_size", totalBytes);
        ObjectNode map = root.putObject("weight_map");
        Map<String, String> sorted = new TreeMap<>();
        files.forEach((file, tensors) -> tensors.keySet().forEach(name -> sorted.put(name, file)));
        sorted.forEach(map::put);
        ConfigJson.write(index, ConfigJson.toJson(root));
    }

    /** HF's {@code torch_dtype} name of a storage dtype. */
    public static String torchDtype(DType storage) {
        return switch (storage) {
            case F32 -> "float32";
            case F64 -> "float64";
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            default -> throw new IllegalArgumentException(storage + " is not a weight storage dtype");
        };
    }

    /** The dtype the checkpoint in {@code directory} stores its weights in. */
    public static DType storedDtype(Path directory) throws IOException {
        return layout(directory).storage();
    }
}
