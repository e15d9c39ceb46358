package dev.curvature.transformer.checkpoint;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.curvature.engine.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.TreeMap;

/**
 * A checkpoint split into shards by a Hugging Face index, {@code model.safetensors.index.json}:
 * {@code {"metadata": {...}, "weight_map": {tensor name: shard file name}}}. Shard names resolve against the
 * index's directory and must stay inside it.
 *
 * <p>{@link #open} maps every shard the index names and checks that each tensor of the weight map is in its shard;
 * errors name the index file and the shard or tensor at fault. Owns the shards and closes them.
 */
public final class ShardedCheckpoint implements Checkpoint {
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private final Path indexFile;
    private final Map<String, String> metadata;
    private final Map<String, SafetensorsFile> shardOf;     // tensor name → its shard, sorted by name
    private final List<SafetensorsFile> shards;

    private ShardedCheckpoint(Path indexFile, Map<String, String> metadata, Map<String, SafetensorsFile> shardOf,
                              List<SafetensorsFile> shards) {
        this.indexFile = indexFile;
        this.metadata = Collections.unmodifiableMap(metadata);
        this.shardOf = Collections.unmodifiableMap(shardOf);
        this.shards = List.copyOf(shards);
    }

    /**
     * Reads the index {@code indexFile}, opens its shards and checks the weight map against them.
     *
     * @throws CheckpointFormatException if the index is malformed, names a missing shard, or a shard lacks a tensor
     *                                   the index puts there (or a shard itself is malformed)
     */
    public static ShardedCheckpoint open(Path indexFile) throws IOException {
        byte[] bytes = Files.readAllBytes(indexFile);   // a missing or unreadable file is a plain IOException
        JsonNode root;
        try {
            root = JSON.readTree(bytes);
        } catch (IOException e) {
            String detail = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
            throw new CheckpointFormatException(indexFile, null, "shard index is not valid JSON: " + detail, e);
        }
        if (root == null || !root.isObject()) {
            throw new CheckpointFormatException(indexFile, null, "shard index is not a JSON object");
        }
        JsonNode weightMap = root.get("weight_map");
        if (weightMap == null || !weightMap.isObject()) {
            throw new CheckpointFormatException(indexFile, null, "shard index has no \"weight_map\" object");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        JsonNode meta = root.get("metadata");
        if (meta != null && !meta.isNull()) {
            if (!meta.isObject()) {
                throw new CheckpointFormatException(indexFile, null, "\"metadata\" must be an object");
            }
            meta.properties().forEach(e -> metadata.put(e.getKey(),
                    e.getValue().isTextual() ? e.getValue().textValue() : e.getValue().toString()));
        }

        Path directory = indexFile.toAbsolutePath().normalize().getParent();
        Map<String, String> shardNameOf = new TreeMap<>();
        for (Map.Entry<String, JsonNode> e : weightMap.properties()) {
            if (!e.getValue().isTextual()) {
                throw new CheckpointFormatException(indexFile, e.getKey(), "weight_map value must be a shard file name, "
                        + "found " + e.getValue().getNodeType());
            }
            shardNameOf.put(e.getKey(), e.getValue().textValue());
        }

        Map<String, SafetensorsFile> opened = new LinkedHashMap<>();
        try {
            Map<String, SafetensorsFile> shardOf = new TreeMap<>();
            for (Map.Entry<String, String> e : shardNameOf.entrySet()) {
                String tensor = e.getKey();
                String shardName = e.getValue();
                SafetensorsFile shard = opened.get(shardName);
                if (shard == null) {
                    shard = SafetensorsFile.open(resolveShard(indexFile, directory, tensor, shardName));
                    opened.put(shardName, shard);
                }
                if (!shard.contains(tensor)) {
                    throw new CheckpointFormatException(indexFile, tensor, "weight_map puts it in shard "
                            + CheckpointFormatException.quote(shardName) + ", which does not hold it");
                }
                shardOf.put(tensor, shard);
            }
            return new ShardedCheckpoint(indexFile, metadata, shardOf, List.copyOf(opened.values()));
        } catch (Throwable t) {
            opened.values().forEach(SafetensorsFile::close);
            throw t;
        }
    }

    private static Path resolveShard(Path indexFile, Path directory, String tensor, String shardName)
            throws CheckpointFormatException {
        Path shard;
        try {
            shard = directory.resolve(shardName).normalize();
        } catch (java.nio.file.InvalidPathException e) {
            throw new CheckpointFormatException(indexFile, tensor, "shard name " + CheckpointFormatException.quote(shardName)
                    + " is not a valid path", e);
        }
        if (shard.getParent() == null || !shard.getParent().equals(directory)) {
            throw new CheckpointFormatException(indexFile, tensor, "shard " + CheckpointFormatException.quote(shardName)
                    + " is not a file name in the index's directory " + directory);
        }
        if (!Files.isRegularFile(shard)) {
            throw new CheckpointFormatException(indexFile, tensor, "shard " + CheckpointFormatException.quote(shardName)
                    + " is missing (looked for " + shard + ")", new NoSuchFileException(shard.toString()));
        }
        return shard;
    }

    @Override
    public Path path() {
        return indexFile;
    }

    /** The distinct shard files, in the order the (sorted) weight map first names them. */
    public List<Path> shardFiles() {
        return shards.stream().map(SafetensorsFile::path).toList();
    }

    @Override
    public List<String> names() {
        return List.copyOf(shardOf.keySet());
    }

    @Override
    public boolean contains(String name) {
        return shardOf.containsKey(name);
    }

    @Override
    public TensorInfo info(String name) {
        return shard(name).info(name);
    }

    @Override
    public Tensor tensor(String name) {
        return shard(name).tensor(name);
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public void close() {
        shards.forEach(SafetensorsFile::close);
    }

    private SafetensorsFile shard(String name) {
        SafetensorsFile shard = shardOf.get(name);
        if (shard == null) {
            throw new NoSuchElementException(indexFile + ": weight_map has no tensor "
                    + CheckpointFormatException.quote(name));
        }
        return shard;
    }
}
