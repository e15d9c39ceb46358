package dev.curvature.transformer.checkpoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reference: two shards built byte by byte ({@link HandBuiltSafetensors}) and an index written as literal JSON in
 * the layout of Hugging Face's {@code model.safetensors.index.json}. Exact values.
 */
class ShardedCheckpointTest {
    @TempDir
    Path dir;

    private static final String SHARD_1 = "model-00001-of-00002.safetensors";
    private static final String SHARD_2 = "model-00002-of-00002.safetensors";

    private void writeShards() throws IOException {
        Files.write(dir.resolve(SHARD_1), HandBuiltSafetensors.file(
                "{\"wte.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                HandBuiltSafetensors.data().f32(1f).f32(2f).bytes()));
        Files.write(dir.resolve(SHARD_2), HandBuiltSafetensors.file(
                "{\"h.0.ln_1.bias\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]},"
                        + "\"ln_f.weight\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[2,10]}}",
                HandBuiltSafetensors.data().u16(0xBF80).f64(0.125).bytes()));
    }

    private Path writeIndex(String weightMap) throws IOException {
        return Files.writeString(dir.resolve(Checkpoint.INDEX_FILE_NAME),
                "{\n  \"metadata\": {\"total_size\": 20, \"format\": \"pt\"},\n  \"weight_map\": {" + weightMap + "}\n}\n");
    }

    private static final String FULL_MAP = "\"wte.weight\": \"" + SHARD_1 + "\", \"h.0.ln_1.bias\": \"" + SHARD_2
            + "\", \"ln_f.weight\": \"" + SHARD_2 + "\"";

    @Test
    void findsEachTensorInItsShard() throws IOException {
        writeShards();
        Path index = writeIndex(FULL_MAP);
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            ShardedCheckpoint sharded = assertInstanceOf(ShardedCheckpoint.class, ckpt);
            assertEquals(index, ckpt.path());
            assertEquals(List.of("h.0.ln_1.bias", "ln_f.weight", "wte.weight"), ckpt.names());
            assertArrayEquals(new double[]{1, 2}, ckpt.tensor("wte.weight").toDoubleArray());
            assertArrayEquals(new double[]{-1}, ckpt.tensor("h.0.ln_1.bias").toDoubleArray());
            assertArrayEquals(new double[]{0.125}, ckpt.tensor("ln_f.weight").toDoubleArray());
            assertEquals(dir.resolve(SHARD_2).toAbsolutePath().normalize(), ckpt.info("ln_f.weight").file());
            assertEquals(Map.of("total_size", "20", "format", "pt"), ckpt.metadata());
            assertEquals(2, sharded.shardFiles().size());
            NoSuchElementException e = assertThrows(NoSuchElementException.class, () -> ckpt.tensor("lm_head.weight"));
            assertTrue(e.getMessage().contains(index.toString()) && e.getMessage().contains("'lm_head.weight'"));
        }
    }

    @Test
    void openingAnIndexFileOrASingleFileDirectlyWorks() throws IOException {
        writeShards();
        Path index = writeIndex(FULL_MAP);
        try (Checkpoint ckpt = Checkpoint.open(index)) {
            assertEquals(3, ckpt.names().size());
        }
        try (Checkpoint single = Checkpoint.open(dir.resolve(SHARD_1))) {
            assertInstanceOf(SafetensorsFile.class, single);
            assertEquals(List.of("wte.weight"), single.names());
        }
    }

    private CheckpointFormatException assertRejected(Path index, String tensor, String... fragments) {
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> ShardedCheckpoint.open(index).close());
        assertEquals(index, e.file());
        assertEquals(tensor, e.tensorName(), e.getMessage());
        assertTrue(e.getMessage().contains(index.toString()), e.getMessage());
        for (String fragment : fragments) {
            assertTrue(e.getMessage().contains(fragment), "says '" + fragment + "': " + e.getMessage());
        }
        return e;
    }

    @Test
    void missingShardIsNamedWithTheIndexAndTheTensor() throws IOException {
        writeShards();
        Path index = writeIndex(FULL_MAP + ", \"wpe.weight\": \"model-00003-of-00002.safetensors\"");
        assertRejected(index, "wpe.weight", "shard 'model-00003-of-00002.safetensors' is missing");
    }

    @Test
    void tensorAbsentFromItsShardIsNamedWithTheIndexAndTheShard() throws IOException {
        writeShards();
        Path index = writeIndex(FULL_MAP.replace("\"wte.weight\": \"" + SHARD_1, "\"wte.weight\": \"" + SHARD_2));
        assertRejected(index, "wte.weight", "weight_map puts it in shard '" + SHARD_2 + "', which does not hold it");
    }

    @Test
    void shardOutsideTheIndexDirectoryIsRefused() throws IOException {
        writeShards();
        Path index = writeIndex("\"wte.weight\": \"../" + SHARD_1 + "\"");
        assertRejected(index, "wte.weight", "not a file name in the index's directory");
    }

    @Test
    void malformedIndexesAreRefused() throws IOException {
        writeShards();
        Path index = dir.resolve(Checkpoint.INDEX_FILE_NAME);
        Files.writeString(index, "{\"weight_map\": {\"a\": ");
        assertRejected(index, null, "not valid JSON");
        Files.writeString(index, "{\"metadata\": {}}");
        assertRejected(index, null, "no \"weight_map\" object");
        Files.writeString(index, "{\"weight_map\": {\"a\": 3}}");
        assertRejected(index, "a", "must be a shard file name");
        Files.writeString(index, "{\"weight_map\": {\"a\": \"x\", \"a\": \"y\"}}");
        assertRejected(index, null, "Duplicate field 'a'");
    }

    @Test
    void malformedShardIsNamedByItsOwnFile() throws IOException {
        writeShards();
        Files.write(dir.resolve(SHARD_2), HandBuiltSafetensors.file("{\"ln_f.weight\":{\"dtype\":\"I64\",\"shape\":[1],"
                + "\"data_offsets\":[0,8]}}", new byte[8]));
        Path index = writeIndex("\"ln_f.weight\": \"" + SHARD_2 + "\"");
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> ShardedCheckpoint.open(index).close());
        assertEquals("ln_f.weight", e.tensorName());
        assertTrue(e.getMessage().contains(SHARD_2) && e.getMessage().contains("I64"), e.getMessage());
    }
}
