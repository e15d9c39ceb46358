package dev.curvature.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** collect's run state from the command line (issue 11): what a description records, and stale shards refused. */
class RunStateCommandTest {

    @Test
    void anF64CollectionRecordsItsDtypeAndExactPrecision(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path corpus = Files.writeString(dir.resolve("c.txt"), "the quick brown fox jumps over the lazy dog ".repeat(4));
        JsonNode report = new ObjectMapper().readTree(CommandRun.stdout("collect", "--model", model.toString(),
                "--corpus", corpus.toString(), "--out", dir.resolve("f.safetensors").toString(), "--time", "16",
                "--dtype", "F64", "--json"));
        JsonNode collection = report.get("description").get("collection");
        assertEquals("F64", collection.get("dtype").asText(), collection.toString());
        assertEquals("F64_EXACT", collection.get("precision").asText(), collection.toString());
    }

    /** The tokenizer is recorded: "bytes", or SHA-256 of the tokenizer file (computed here independently). */
    @Test
    void collectRecordsTheTokenizerDigestAndMergeKeepsBoth(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path corpus = Files.writeString(dir.resolve("c.txt"), "hello hello hello hello hello hello ".repeat(4));
        Path tokenizer = Path.of("").toAbsolutePath().getParent()
                .resolve("transformer/src/test/resources/dev/curvature/transformer/tokenizer/tiny-tokenizer.json");
        Path bytes = dir.resolve("bytes.safetensors");
        Path bpe = dir.resolve("bpe.safetensors");
        CommandRun.stdout("collect", "--model", model.toString(), "--corpus", corpus.toString(), "--out",
                bytes.toString(), "--time", "8");
        CommandRun.stdout("collect", "--model", model.toString(), "--corpus", corpus.toString(), "--out",
                bpe.toString(), "--time", "8", "--tokenizer", tokenizer.toString());
        JsonNode merged = new ObjectMapper().readTree(CommandRun.stdout("merge", bytes.toString(), bpe.toString(),
                "--out", dir.resolve("m.safetensors").toString(), "--json"));
        String sha = "sha256:" + java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                .digest(Files.readAllBytes(tokenizer)));
        assertEquals("[\"bytes\",\"" + sha + "\"]", merged.get("tokenizers").toString());
    }

    @Test
    void aStaleShardOfOtherCorporaIsRefusedNamingTheCorpus(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path a = Files.writeString(dir.resolve("a.txt"), "first corpus, first corpus, first corpus. ".repeat(3));
        Path b = Files.writeString(dir.resolve("b.txt"), "second corpus; second corpus; second. ".repeat(3));
        Path c = Files.writeString(dir.resolve("c.txt"), "a third and other corpus for the run. ".repeat(3));
        Path out = dir.resolve("f.safetensors");
        // the shard an interrupted run over (a, b) left: the factors of a alone, as collect wrote them
        CommandRun.stdout("collect", "--model", model.toString(), "--corpus", a.toString(), "--out",
                dir.resolve("f.safetensors.part-0").toString(), "--time", "16");
        CommandFailure refused = CommandFailure.of("collect", "--model", model.toString(), "--corpus", c.toString(),
                b.toString(), "--out", out.toString(), "--time", "16");
        assertNotEquals(0, refused.code());
        assertTrue(refused.message().contains("f.safetensors.part-0") && refused.message().contains("corpus"),
                refused.stderr());
        assertTrue(!Files.exists(out));
    }

    /**
     * A killed F32 collection's checkpoint is not resumed by an F64 run (that would give a file of mixed precision
     * that cannot be told apart): the F64 run is refused naming the dtype, and writes nothing.
     */
    @Test
    void anF64RunRefusesTheCheckpointOfAKilledF32Run(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path corpus = Files.writeString(dir.resolve("c.txt"), "the quick brown fox jumps over the lazy dog "
                .repeat(400));
        Path out = dir.resolve("f.safetensors");
        Path checkpoint = dev.curvature.kfac.FactorCollection.checkpointOf(out);
        String[] f32 = {"collect", "--model", model.toString(), "--corpus", corpus.toString(), "--out",
                out.toString(), "--time", "16", "--batch", "2", "--checkpoint-every", "32", "--threads", "1"};
        ChildProcess.Running first = ChildProcess.start(List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"), f32);
        try {
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (!Files.exists(checkpoint) && first.process().isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
        } finally {
            first.kill();
        }
        assertTrue(Files.exists(checkpoint) && !Files.exists(out), "the F32 run killed after a checkpoint");
        String[] f64 = java.util.stream.Stream.concat(java.util.Arrays.stream(f32), java.util.stream.Stream.of(
                "--dtype", "F64")).toArray(String[]::new);
        CommandFailure resumed = CommandFailure.of(f64);
        String outcome = "F64 run: exit " + resumed.code() + (Files.exists(out) ? ", wrote " + out : "") + ": "
                + resumed.message().strip();
        assertTrue(resumed.code() != 0 && resumed.message().contains("dtype"), outcome);
        assertTrue(!Files.exists(out), outcome);
    }
}
