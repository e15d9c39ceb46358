package dev.curvature.transformer.workbench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading eval sets back; reference: JSONL lines written by hand in the test, and the builder's own samples. */
class WorkbenchMemorizationSetTest {

    @Test
    void handWrittenLinesReadAsSamples(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("set.jsonl");
        Files.writeString(file, "{\"prompt\": \"ab\\ncd\", \"suffix\": \"é\", \"source\": \"canary\", \"id\": \"c0\"}\n\n"
                + "{\"id\": \"h1\", \"source\": \"heldout\", \"suffix\": \"y\", \"prompt\": \"x\"}\n");
        assertEquals(List.of(new MemorizationSample("ab\ncd", "é", MemorizationSample.Source.CANARY, "c0"),
                        new MemorizationSample("x", "y", MemorizationSample.Source.HELDOUT, "h1")),
                MemorizationSet.read(file));
    }

    @Test
    void writtenEvalSetsReadBackAsTheBuilderMadeThem(@TempDir Path dir) throws IOException {
        String source = WorkbenchBuilderTest.syntheticSource(400, 30, 200, 99L);
        var options = WorkbenchOptions.defaults(3).withHeldout(0.1, 1500, 4).withPassages(3, 2)
                .withCanaries(2, 3, WorkbenchOptions.LOWERCASE_AND_DIGITS);
        var files = WorkbenchBuilder.write(new CorpusSource.Text("synthetic", source), options, dir.resolve("w"));
        assertEquals(files.corpus().duplicates(), MemorizationSet.read(dir.resolve("w/eval/duplicates.jsonl")));
        assertEquals(files.corpus().canaries(), MemorizationSet.read(dir.resolve("w/eval/canaries.jsonl")));
        assertEquals(files.corpus().heldoutControls(), MemorizationSet.read(dir.resolve("w/eval/heldout.jsonl")));
    }

    @Test
    void badLineNamesFileLineAndField(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("bad.jsonl");
        Files.writeString(file, "{\"prompt\": \"a\", \"suffix\": \"b\", \"source\": \"canary\", \"id\": \"c0\"}\n"
                + "{\"prompt\": \"a\", \"suffix\": \"b\", \"source\": \"elsewhere\", \"id\": \"c1\"}\n"
                + "{\"prompt\": \"a\", \"source\": \"canary\", \"id\": \"c2\"}\n");
        IOException e = assertThrows(IOException.class, () -> MemorizationSet.read(file));
        assertTrue(e.getMessage().contains("bad.jsonl: line 2") && e.getMessage().contains("elsewhere"),
                e.getMessage());
        Files.writeString(file, "{\"prompt\": \"a\", \"source\": \"canary\", \"id\": \"c2\"}\n");
        e = assertThrows(IOException.class, () -> MemorizationSet.read(file));
        assertTrue(e.getMessage().contains("line 1") && e.getMessage().contains("suffix"), e.getMessage());
    }
}
