package dev.curvature.transformer.checkpoint;

import dev.curvature.engine.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Named tensors on disk in the Hugging Face layout: one {@code .safetensors} file ({@link SafetensorsFile}) or
 * several shards behind {@code model.safetensors.index.json} ({@link ShardedCheckpoint}).
 *
 * <p>Everything is validated when the checkpoint is opened; afterwards {@link #tensor} only cuts views. Tensors
 * are read-only host views over memory-mapped files, valid until {@link #close()}; the checkpoint owns the
 * mapping. Data are little-endian on disk, so curvature refuses to map them on a big-endian host.
 */
public interface Checkpoint extends AutoCloseable {
    /** HF's file name of an unsharded checkpoint. */
    String SINGLE_FILE_NAME = "model.safetensors";
    /** HF's file name of a shard index. */
    String INDEX_FILE_NAME = "model.safetensors.index.json";

    /**
     * Opens {@code path}: a {@code .safetensors} file, a {@code *.index.json} shard index, or a model directory
     * (its {@code model.safetensors.index.json} if present, else its {@code model.safetensors}).
     */
    static Checkpoint open(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            Path index = path.resolve(INDEX_FILE_NAME);
            if (Files.exists(index)) {
                return ShardedCheckpoint.open(index);
            }
            Path single = path.resolve(SINGLE_FILE_NAME);
            if (Files.exists(single)) {
                return SafetensorsFile.open(single);
            }
            throw new NoSuchFileException(path.toString(), null,
                    "directory holds neither " + INDEX_FILE_NAME + " nor " + SINGLE_FILE_NAME);
        }
        Path fileName = path.getFileName();
        if (fileName != null && fileName.toString().endsWith(".index.json")) {
            return ShardedCheckpoint.open(path);
        }
        return SafetensorsFile.open(path);
    }

    /** The file this checkpoint was opened from (the {@code .safetensors} file or the shard index). */
    Path path();

    /** Tensor names, sorted. */
    List<String> names();

    /** Whether a tensor of this exact name exists. */
    boolean contains(String name);

    /**
     * What the header says about tensor {@code name}: dtype, shape, the file holding it.
     *
     * @throws java.util.NoSuchElementException if there is no such tensor; the message names the checkpoint
     */
    TensorInfo info(String name);

    /**
     * A read-only, row-major view of tensor {@code name} over the mapped file (no copy), named {@code name}.
     *
     * @throws java.util.NoSuchElementException if there is no such tensor; the message names the checkpoint
     */
    Tensor tensor(String name);

    /**
     * The file's {@code __metadata__} (string to string); for a sharded checkpoint the index's {@code metadata},
     * non-string values as JSON text. Empty when absent.
     */
    Map<String, String> metadata();

    /** Unmaps the files; tensors obtained from this checkpoint must not be used afterwards. */
    @Override
    void close();
}
