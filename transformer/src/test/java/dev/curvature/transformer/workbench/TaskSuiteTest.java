package dev.curvature.transformer.workbench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The task generator: deterministic, held-out sets disjoint from training, answers right, lines placed in train. */
class TaskSuiteTest {
    static final TaskOptions SMALL = new TaskOptions(3, 20, 5, 200, 30, 2000, 150);
    static final Pattern SUM = Pattern.compile("(\\d+)\\+(\\d+)=(\\d+)\\.");

    @Test
    void sameOptionsGiveTheSameDataAndAnotherSeedOther() {
        TaskSuite a = TaskSuite.generate(SMALL);
        TaskSuite b = TaskSuite.generate(SMALL);
        assertEquals(a.trainLines(), b.trainLines());
        assertEquals(a.evalSets(), b.evalSets());
        TaskSuite other = TaskSuite.generate(new TaskOptions(4, 20, 5, 200, 30, 2000, 150));
        assertNotEquals(a.trainLines(), other.trainLines());
        assertEquals(TaskSuite.SETS, List.copyOf(a.evalSets().keySet()));
        assertEquals(40, a.evalSets().get("closed-book").size());   // 20 entities × 2 relations
        assertEquals(40, a.evalSets().get("open-book").size());
        assertEquals(30, a.evalSets().get("open-book-unseen").size());
        assertEquals(150, a.evalSets().get("arithmetic").size());
        assertEquals(40 * 5 + 200 + 2000, a.trainLines().size());
    }

    @Test
    void heldOutSetsAreDisjointFromTrainingAndAnswersAreRight() {
        TaskSuite suite = TaskSuite.generate(SMALL);
        Map<String, Integer> count = new HashMap<>();
        suite.trainLines().forEach(l -> count.merge(l, 1, Integer::sum));
        String train = String.join("\n", suite.trainLines());
        // closed-book: the question and answer are in training exactly factCopies times; the statement never
        for (TaskSample s : suite.evalSets().get("closed-book")) {
            assertEquals(5, count.getOrDefault(s.text(), 0), s.id());
        }
        // open-book: the same facts with the statement in the prompt; that whole prompt is never trained on
        List<TaskSample> closed = suite.evalSets().get("closed-book");
        List<TaskSample> open = suite.evalSets().get("open-book");
        for (int i = 0; i < open.size(); i++) {
            assertTrue(open.get(i).prompt().endsWith(closed.get(i).prompt()), open.get(i).id());
            assertEquals(closed.get(i).answer(), open.get(i).answer());
            assertFalse(train.contains(open.get(i).prompt()), open.get(i).id());
        }
        // unseen open-book: neither entity nor value occurs anywhere in training
        for (TaskSample s : suite.evalSets().get("open-book-unseen")) {
            String entity = s.prompt().substring(0, s.prompt().indexOf(' '));
            String value = s.answer().substring(1, s.answer().length() - 1);
            assertFalse(train.contains(entity), s.id() + " entity " + entity);
            assertFalse(train.contains(value), s.id() + " value " + value);
            assertTrue(s.prompt().contains(value), s.id());
        }
        // arithmetic: every answer is the sum, and no held-out pair is trained on in either order
        Set<String> trainedPairs = new HashSet<>();
        for (String line : suite.trainLines()) {
            Matcher m = SUM.matcher(line);
            if (m.matches()) {
                long a = Long.parseLong(m.group(1));
                long b = Long.parseLong(m.group(2));
                assertEquals(a + b, Long.parseLong(m.group(3)), line);
                assertTrue(a >= 10 && a <= 999 && b >= 10 && b <= 999, line);
                assertTrue(trainedPairs.add(a + "+" + b), "duplicate training problem " + line);
            }
        }
        assertEquals(2000, trainedPairs.size());
        for (TaskSample s : suite.evalSets().get("arithmetic")) {
            Matcher m = SUM.matcher(s.text());
            assertTrue(m.matches(), s.text());
            long a = Long.parseLong(m.group(1));
            long b = Long.parseLong(m.group(2));
            assertEquals(a + b, Long.parseLong(m.group(3)));
            assertFalse(trainedPairs.contains(a + "+" + b) || trainedPairs.contains(b + "+" + a), s.text());
        }
    }

    @Test
    void workbenchPlacesEveryTaskLineAndWritesTheSetsThatTheManifestRebuilds(@TempDir Path dir) throws IOException {
        String source = syntheticSource();
        WorkbenchOptions options = smallWorkbench();
        var files = WorkbenchBuilder.write(new CorpusSource.Text("synthetic", source), options, SMALL,
                dir.resolve("w"));
        TaskSuite suite = TaskSuite.generate(SMALL);
        Map<String, Integer> inTrain = new HashMap<>();
        for (String line : files.corpus().train().split("\n")) {
            inTrain.merge(line, 1, Integer::sum);
        }
        Map<String, Integer> expected = new HashMap<>();
        suite.trainLines().forEach(l -> expected.merge(l, 1, Integer::sum));
        expected.forEach((line, n) -> assertEquals(n, inTrain.getOrDefault(line, 0), line));
        assertEquals(suite.trainChars(), files.corpus().train().length() - WorkbenchBuilder.compose(
                source, options).train().length());
        for (String set : TaskSuite.SETS) {
            assertEquals(suite.evalSets().get(set), TaskSuite.read(dir.resolve("w/eval/tasks/" + set + ".jsonl")));
        }
        WorkbenchManifest manifest = WorkbenchManifest.read(dir.resolve("w/manifest.json"));
        assertEquals(SMALL, manifest.tasks());
        assertEquals(files.corpus().train(),
                manifest.rebuild(new CorpusSource.Text("synthetic", source)).train());
        // a KJV range is re-read from its description; any other text source is not
        String text = Files.readString(dir.resolve("w/manifest.json"));
        Files.writeString(dir.resolve("range.json"), text.replace("\"text synthetic\"",
                "\"bible -f gen1:1-jdg21:25 (Debian bible-kjv), verse references stripped\""));
        assertEquals(new CorpusSource.KjvBible("gen1:1-jdg21:25", false),
                WorkbenchManifest.read(dir.resolve("range.json")).source());
        var notKjv = assertThrows(IOException.class, manifest::source);
        assertTrue(notKjv.getMessage().contains("synthetic"), notKjv.getMessage());
        Files.writeString(dir.resolve("bad.jsonl"), "{\"prompt\": \"a\", \"answer\": \"b\", \"task\": \"t\"}\n");
        var e = assertThrows(IOException.class, () -> TaskSuite.read(dir.resolve("bad.jsonl")));
        assertTrue(e.getMessage().contains("line 1") && e.getMessage().contains("\"id\""), e.getMessage());
    }

    @Test
    void twoDigitOperandsTakeTheWholeRangeAndEachSumIsCopied() {
        // 10..99: 8100 ordered problems; 150 held-out unordered pairs remove at most 300 of them
        TaskOptions twoDigit = new TaskOptions(3, 20, 5, 200, 30, 7000, 150, 2, 3);
        TaskSuite suite = TaskSuite.generate(twoDigit);
        Map<String, Integer> count = new HashMap<>();
        Set<Long> held = new HashSet<>();
        for (TaskSample s : suite.evalSets().get("arithmetic")) {
            Matcher m = SUM.matcher(s.text());
            assertTrue(m.matches(), s.text());
            int a = Integer.parseInt(m.group(1));
            int b = Integer.parseInt(m.group(2));
            assertTrue(a >= 10 && a <= 99 && b >= 10 && b <= 99, s.text());
            held.add((long) Math.min(a, b) * 1000 + Math.max(a, b));
        }
        for (String line : suite.trainLines()) {
            Matcher m = SUM.matcher(line);
            if (m.matches()) {
                int a = Integer.parseInt(m.group(1));
                int b = Integer.parseInt(m.group(2));
                assertEquals(a + b, Integer.parseInt(m.group(3)), line);
                assertTrue(a >= 10 && a <= 99 && b >= 10 && b <= 99, line);
                assertFalse(held.contains((long) Math.min(a, b) * 1000 + Math.max(a, b)), line);
                count.merge(line, 1, Integer::sum);
            }
        }
        assertEquals(7000, count.size());
        count.forEach((line, n) -> assertEquals(3, n, line));
        // the 3-digit default keeps the old stream: the 7-argument options are 3-digit operands, one copy each
        assertEquals(TaskSuite.generate(SMALL).trainLines(),
                TaskSuite.generate(new TaskOptions(3, 20, 5, 200, 30, 2000, 150, 3, 1)).trainLines());
        var tooMany = assertThrows(IllegalArgumentException.class,
                () -> new TaskOptions(3, 20, 5, 200, 30, 7900, 150, 2, 1));
        assertTrue(tooMany.getMessage().contains("<= 8100 with 2-digit operands"), tooMany.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new TaskOptions(3, 20, 5, 200, 30, 70, 15, 4, 1));
        assertThrows(IllegalArgumentException.class, () -> new TaskOptions(3, 20, 5, 200, 30, 70, 15, 2, 0));
    }

    @Test
    void aManifestWrittenBeforeOperandDigitsReadsAsThreeDigitsOneCopy(@TempDir Path dir) throws IOException {
        TaskOptions twoDigit = new TaskOptions(3, 10, 2, 50, 10, 500, 20, 2, 2);
        WorkbenchBuilder.write(new CorpusSource.Text("synthetic", syntheticSource()), smallWorkbench(), twoDigit,
                dir.resolve("w"));
        assertEquals(twoDigit, WorkbenchManifest.read(dir.resolve("w/manifest.json")).tasks());
        String text = Files.readString(dir.resolve("w/manifest.json"));
        String old = text.replaceAll(",\\s*\"operandDigits\"\\s*:\\s*2", "")
                .replaceAll(",\\s*\"sumCopies\"\\s*:\\s*2", "");
        assertNotEquals(text, old);
        assertFalse(old.contains("operandDigits") || old.contains("sumCopies"), old);
        Files.writeString(dir.resolve("old.json"), old);
        assertEquals(new TaskOptions(3, 10, 2, 50, 10, 500, 20, 3, 1),
                WorkbenchManifest.read(dir.resolve("old.json")).tasks());
    }

    /** 3000 numbered lines: enough blocks for a small workbench. */
    private static String syntheticSource() {
        StringBuilder source = new StringBuilder();
        for (int i = 0; i < 3000; i++) {
            source.append("line ").append(i).append(" of the synthetic source text, with words\n");
        }
        return source.toString();
    }

    private static WorkbenchOptions smallWorkbench() {
        return WorkbenchOptions.defaults(5).withPassages(4, 3).withCanaries(2, 5,
                WorkbenchOptions.LOWERCASE_AND_DIGITS).withHeldout(0.1, 2000, 4);
    }
}
