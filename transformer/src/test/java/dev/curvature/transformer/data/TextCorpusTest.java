package dev.curvature.transformer.data;

import dev.curvature.transformer.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Corpora from text and JSONL; reference: the documents written by the test itself. */
class TextCorpusTest {

    @Test
    void jsonlDocumentsAreJoinedWithTheSeparator(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("corpus.jsonl");
        Files.writeString(file, "{\"text\": \"ab\"}\n\n{\"text\": \"é\", \"source\": \"x\"}\n");
        TextCorpus corpus = TextCorpus.read(file);
        assertEquals(List.of("ab", "é"), corpus.documents());
        // 'a' 'b' | separator | é = C3 A9 in UTF-8
        assertArrayEquals(new int[]{97, 98, 0, 0xC3, 0xA9}, corpus.tokens(new ByteTokenizer(), 0));
    }

    @Test
    void plainTextIsOneDocument(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("corpus.txt");
        Files.writeString(file, "line one\nline two\n");
        assertEquals(List.of("line one\nline two\n"), TextCorpus.read(file).documents());
    }

    @Test
    void badLinesNameFileAndLine(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("bad.jsonl");
        Files.writeString(file, "{\"text\": \"ok\"}\n{\"txt\": \"no\"}\n");
        var missing = assertThrows(IOException.class, () -> TextCorpus.read(file));
        assertTrue(missing.getMessage().contains("bad.jsonl: line 2") && missing.getMessage().contains("\"text\""),
                missing.getMessage());
        Files.writeString(file, "{\"text\": \"ok\"}\n{\"text\": \n");
        var broken = assertThrows(IOException.class, () -> TextCorpus.read(file));
        assertTrue(broken.getMessage().contains("line 2 is not valid JSON"), broken.getMessage());
        Path latin1 = dir.resolve("latin1.txt");
        Files.write(latin1, new byte[]{'a', (byte) 0xE9, 'b'});
        var encoding = assertThrows(IOException.class, () -> TextCorpus.read(latin1));
        assertTrue(encoding.getMessage().contains("latin1.txt: not valid UTF-8"), encoding.getMessage());
    }

    /** Strict JSONL (issue 11): what a lenient parser would silently read as one of two documents is refused. */
    @Test
    void aJsonlLineWithTwoObjectsARepeatedKeyOrNoObjectIsRefusedNamingFileAndLine(@TempDir Path dir)
            throws IOException {
        String first = "{\"text\": \"fine\"}\n";
        for (String[] bad : new String[][]{{"{\"text\": \"a\"}{\"text\": \"b\"}", "not valid JSON"},
                {"{\"text\": \"a\", \"text\": \"b\"}", "Duplicate field 'text'"},
                {"[\"text\", \"a\"]", "not a JSON object"}, {"\"text\"", "not a JSON object"}}) {
            Path file = Files.writeString(dir.resolve("c.jsonl"), first + bad[0] + "\n");
            var e = assertThrows(IOException.class, () -> TextCorpus.read(file), bad[0]);
            assertTrue(e.getMessage().startsWith(file + ": line 2 ") && e.getMessage().contains(bad[1]),
                    e.getMessage());
        }
        Path crlf = Files.writeString(dir.resolve("crlf.jsonl"), "{\"text\": \"a\"}\r\n\r\n{\"text\": \"b\"}\r");
        assertEquals(List.of("a", "b"), TextCorpus.read(crlf).documents(), "CR LF and CR end lines too");
    }
}
