package dev.curvature.spark;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CorpusManifestTest {
    @Test
    void readsWholeFilesAndByteRangesInLineOrderFromTheManifestsFolder(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("a.txt"), "first file\n");
        Files.createDirectories(dir.resolve("sub"));
        Files.writeString(dir.resolve("sub/b.jsonl"), "{\"text\": \"x\"}\n{\"text\": \"y\"}\n");
        Path manifest = dir.resolve("m.manifest");
        Files.writeString(manifest, "# comment\n\nsub/b.jsonl 14 28\na.txt\n  sub/b.jsonl 0 14  \n");
        CorpusManifest m = CorpusManifest.read(manifest);
        assertEquals(3, m.shards().size());
        assertEquals(new CorpusManifest.Shard(0, dir.resolve("sub/b.jsonl").toString(), 14, 28), m.shards().get(0));
        assertEquals(new CorpusManifest.Shard(1, dir.resolve("a.txt").toString(), 0, -1), m.shards().get(1));
        assertEquals(new CorpusManifest.Shard(2, dir.resolve("sub/b.jsonl").toString(), 0, 14), m.shards().get(2));
        Path text = CorpusManifest.textOf(m.shards().get(0), dir.resolve("scratch"));
        assertEquals("b.jsonl", text.getFileName().toString());
        assertEquals("{\"text\": \"y\"}\n", Files.readString(text));
        assertEquals(dir.resolve("a.txt"), CorpusManifest.textOf(m.shards().get(1), dir.resolve("scratch")));
    }

    @Test
    void malformedLinesAreRefusedNamingManifestLineAndProblem(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("a.txt"), "0123456789\n");
        Path manifest = dir.resolve("bad.manifest");
        String[][] cases = {
                {"a.txt 1", "line 1: expected PATH or PATH START END"},
                {"missing.txt", "line 1: corpus file"},
                {"a.txt 5 5", "byte range [5, 5) is empty or not within"},
                {"a.txt 0 12", "not within " + dir.resolve("a.txt") + " (11 bytes)"},
                {"a.txt -1 4", "START must be a byte offset >= 0, got '-1'"},
                {"# nothing\n", "lists no corpus shard"}};
        for (String[] c : cases) {
            Files.writeString(manifest, c[0]);
            var e = assertThrows(IllegalArgumentException.class, () -> CorpusManifest.read(manifest));
            assertTrue(e.getMessage().contains(c[1]) && e.getMessage().contains(manifest.toString()),
                    c[0] + " -> " + e.getMessage());
        }
    }

    @Test
    void splitCutsAfterNewlinesAndTheRangesTileTheFile(@TempDir Path dir) throws IOException {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < 50; i++) {
            s.append("line ").append(i).append(" é ").append("x".repeat(i % 7)).append('\n');
        }
        Path file = dir.resolve("c.txt");
        Files.writeString(file, s, StandardCharsets.UTF_8);
        byte[] bytes = Files.readAllBytes(file);
        CorpusManifest m = CorpusManifest.split(file, 4, dir.resolve("c.manifest"));
        assertEquals(m.shards(), CorpusManifest.read(dir.resolve("c.manifest")).shards(), "written as read");
        ByteArrayOutputStream joined = new ByteArrayOutputStream();
        long expectedStart = 0;
        for (CorpusManifest.Shard shard : m.shards()) {
            assertEquals(expectedStart, shard.start());
            assertEquals('\n', bytes[(int) shard.end() - 1], "range " + shard.describe() + " ends after a newline");
            // about a quarter each: within one line (< 20 bytes) of the even cut
            long evenEnd = (long) bytes.length * (shard.index() + 1) / 4;
            assertTrue(shard.end() >= evenEnd && shard.end() - evenEnd < 20, shard.describe());
            joined.write(Files.readAllBytes(CorpusManifest.textOf(shard, dir.resolve("r" + shard.index()))));
            expectedStart = shard.end();
        }
        assertArrayEquals(bytes, joined.toByteArray());
        assertThrows(IllegalArgumentException.class, () -> CorpusManifest.split(file, 200, dir.resolve("x")));
    }
}
