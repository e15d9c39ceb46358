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

/** Both eval-set readers share one strict JSONL reader: one object per line, no repeated key, errors name the line. */
class JsonlEvalSetTest {
    private static final String GOOD = "{\"prompt\": \"1+2=\", \"answer\": \"3.\", \"task\": \"arithmetic\", \"id\": \"s0\"}";

    @Test
    void readsOneObjectPerLineSkippingBlankLines(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("t.jsonl"), GOOD + "\n\n" + GOOD.replace("s0", "s1") + "\n");
        assertEquals(List.of(new TaskSample("1+2=", "3.", "arithmetic", "s0"),
                new TaskSample("1+2=", "3.", "arithmetic", "s1")), TaskSuite.read(file));
    }

    @Test
    void refusesTwoValuesOnALineARepeatedKeyAndANonObjectNamingFileAndLine(@TempDir Path dir) throws IOException {
        List<String> bad = List.of(GOOD + GOOD, GOOD.replace("\"id\": \"s0\"", "\"id\": \"s0\", \"id\": \"s1\""),
                "[" + GOOD + "]", "\"text\"");
        for (String line : bad) {
            Path file = Files.writeString(dir.resolve("bad.jsonl"), GOOD + "\n" + line + "\n");
            IOException task = assertThrows(IOException.class, () -> TaskSuite.read(file), line);
            assertTrue(task.getMessage().startsWith(file + ": line 2: "), task.getMessage());
            String memorization = line.replace("answer", "suffix").replace("\"task\": \"arithmetic\"",
                    "\"source\": \"canary\"");
            Files.writeString(file, "\n" + memorization + "\n");
            IOException set = assertThrows(IOException.class, () -> MemorizationSet.read(file), memorization);
            assertTrue(set.getMessage().startsWith(file + ": line 2: "), set.getMessage());
        }
    }
}
