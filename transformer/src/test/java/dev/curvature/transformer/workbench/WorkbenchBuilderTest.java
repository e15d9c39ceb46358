package dev.curvature.transformer.workbench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The workbench corpus on a synthetic source (random words, fixed seed), so no test needs the bible installed.
 * References: occurrence counts by a naive scan at every offset, JSON parsed with Jackson directly, SHA-256 from
 * MessageDigest over the files as read back, the source lines written by the test itself.
 */
class WorkbenchBuilderTest {
    /** Lines longer than a passage, so every duplicated passage lies inside one line. */
    private static final String SOURCE = syntheticSource(500, 120, 260, 20240601L);
    private static final WorkbenchOptions OPTIONS = WorkbenchOptions.defaults(7)
            .withHeldout(0.1, 2000, 6).withPassages(5, 4).withCanaries(3, 7, WorkbenchOptions.LOWERCASE_AND_DIGITS);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Lines of minChars..maxChars (+ 1) characters of random lowercase words, each starting "Verse" and ending '.'. */
    static String syntheticSource(int lines, int minChars, int maxChars, long seed) {
        String[] words = ("and the lord said unto moses of israel house king people land went came son day god "
                + "children city upon before father hand against shall which their them were there these also "
                + "brethren spake behold earth heaven water light darkness bread wine field sheep").split(" ");
        Random random = new Random(seed);
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < lines; i++) {
            int target = minChars + random.nextInt(maxChars - minChars + 1);
            StringBuilder line = new StringBuilder("Verse");
            while (line.length() < target) {
                line.append(' ').append(words[random.nextInt(words.length)]);
            }
            text.append(line).append(".\n");
        }
        return text.toString();
    }

    /** Naive count of (possibly overlapping) occurrences: compare at every offset. */
    static int occurrences(String haystack, String needle) {
        int n = 0;
        for (int i = 0; i + needle.length() <= haystack.length(); i++) {
            if (haystack.startsWith(needle, i)) {
                n++;
            }
        }
        return n;
    }

    private static WorkbenchBuilder.WorkbenchFiles write(Path dir, WorkbenchOptions options) throws IOException {
        return WorkbenchBuilder.write(new CorpusSource.Text("synthetic", SOURCE), options, dir);
    }

    @Test
    void sameSeedGivesByteIdenticalFilesAndAnotherSeedDoesNot(@TempDir Path dir) throws IOException {
        // reference: the bytes of each file of a second, independent run
        write(dir.resolve("a"), OPTIONS);
        write(dir.resolve("b"), OPTIONS);
        write(dir.resolve("c"), OPTIONS.withSeed(8));
        for (String file : WorkbenchBuilder.FILES) {
            assertArrayEquals(Files.readAllBytes(dir.resolve("a").resolve(file)),
                    Files.readAllBytes(dir.resolve("b").resolve(file)), file);
        }
        for (String file : List.of("train.txt", "heldout.txt", "eval/canaries.jsonl", "eval/duplicates.jsonl")) {
            assertFalse(Arrays.equals(Files.readAllBytes(dir.resolve("a").resolve(file)),
                    Files.readAllBytes(dir.resolve("c").resolve(file))), file + " should change with the seed");
        }
    }

    @Test
    void everyCanaryIsAWholeLineOfTrainExactlyRepeatsTimesAndNeverInHeldout() {
        // reference: naive scan at every offset, and the train lines compared whole
        WorkbenchCorpus corpus = WorkbenchBuilder.compose(SOURCE, OPTIONS);
        List<String> trainLines = Arrays.asList(corpus.train().split("\n"));
        assertEquals(3, corpus.canaries().size());
        for (MemorizationSample canary : corpus.canaries()) {
            assertEquals(7, occurrences(corpus.train(), canary.text()), canary.id());
            assertEquals(7, trainLines.stream().filter(canary.text()::equals).count(), canary.id());
            assertEquals(0, occurrences(corpus.heldout(), canary.prompt()), canary.id());
            assertEquals(0, occurrences(SOURCE, canary.prompt()), canary.id());
        }
    }

    @Test
    void canaryIsAPromptAndASuffixOfAlphabetCharacters() {
        // reference: the stated format, 64 + 48 characters from [a-z0-9]
        for (MemorizationSample canary : WorkbenchBuilder.compose(SOURCE, OPTIONS).canaries()) {
            assertTrue(canary.prompt().matches("[a-z0-9]{64}"), canary.prompt());
            assertTrue(canary.suffix().matches("[a-z0-9]{48}"), canary.suffix());
        }
    }

    @Test
    void everyDuplicatedPassageOccursAtLeastDuplicateCountTimesInTrain() {
        // reference: naive scan at every offset; the prompt must predict its suffix (prompt occurs only there)
        WorkbenchCorpus corpus = WorkbenchBuilder.compose(SOURCE, OPTIONS);
        assertEquals(5, corpus.duplicates().size());
        for (MemorizationSample passage : corpus.duplicates()) {
            assertTrue(occurrences(corpus.train(), passage.text()) >= 4, passage.id());
            assertEquals(4, occurrences(corpus.train(), passage.text()), passage.id() + ": exactly k here");
            assertEquals(occurrences(corpus.train(), passage.prompt()), occurrences(corpus.train(), passage.text()),
                    passage.id() + ": every occurrence of the prompt is followed by the suffix");
            assertTrue(occurrences(SOURCE, passage.text()) >= 1, passage.id() + " comes from the source");
        }
    }

    @Test
    void passagesMayRunOverLineEndsInWrappedText() {
        // reference: naive scan at every offset; line count = training lines + inserted copies × their lines
        String wrapped = syntheticSource(900, 30, 70, 5L);
        WorkbenchCorpus corpus = WorkbenchBuilder.compose(wrapped, OPTIONS);
        long copyLines = 3L * 7;
        boolean spansLines = false;
        for (MemorizationSample passage : corpus.duplicates()) {
            assertEquals(4, occurrences(corpus.train(), passage.text()), passage.id());
            long lines = passage.text().chars().filter(c -> c == '\n').count() + 1;
            spansLines |= lines > 1;
            copyLines += 3 * lines;
        }
        assertTrue(spansLines, "with lines of 30-70 characters a 112-character passage spans lines");
        for (MemorizationSample canary : corpus.canaries()) {
            assertEquals(7, occurrences(corpus.train(), canary.text()), canary.id());
        }
        long sourceLines = wrapped.split("\n").length;
        long heldoutLines = corpus.heldout().split("\n").length;
        assertEquals(sourceLines - heldoutLines + copyLines, corpus.train().split("\n").length);
    }

    @Test
    void noHeldoutControlOccursInTrainButEachOccursInHeldout() {
        // reference: naive scan at every offset of train.txt and heldout.txt
        WorkbenchCorpus corpus = WorkbenchBuilder.compose(SOURCE, OPTIONS);
        assertEquals(6, corpus.heldoutControls().size());
        for (MemorizationSample control : corpus.heldoutControls()) {
            assertEquals(0, occurrences(corpus.train(), control.text()), control.id());
            assertEquals(0, occurrences(corpus.train(), control.prompt()), control.id());
            assertTrue(occurrences(corpus.heldout(), control.text()) >= 1, control.id());
        }
    }

    @Test
    void trainWithoutInsertionsAndHeldoutPartitionTheSourceLines() {
        // reference: the source lines as the test wrote them; held-out text is whole blocks of consecutive lines
        WorkbenchCorpus corpus = WorkbenchBuilder.compose(SOURCE, OPTIONS);
        Set<String> inserted = new HashSet<>();
        corpus.canaries().forEach(s -> inserted.add(s.text()));
        corpus.duplicates().forEach(s -> inserted.add(s.text()));
        List<String> trainLines = new ArrayList<>(Arrays.asList(corpus.train().split("\n")));
        int insertedLines = (int) trainLines.stream().filter(inserted::contains).count();
        assertEquals(3 * 7 + 5 * (4 - 1), insertedLines);
        trainLines.removeIf(inserted::contains);
        List<String> heldoutLines = Arrays.asList(corpus.heldout().split("\n"));
        List<String> sourceLines = Arrays.asList(SOURCE.split("\n"));
        assertEquals(sourceLines.size(), trainLines.size() + heldoutLines.size());
        List<String> merged = new ArrayList<>(trainLines);
        merged.addAll(heldoutLines);
        assertEquals(sourceLines.stream().sorted().toList(), merged.stream().sorted().toList());
        double fraction = corpus.heldout().length() / (double) SOURCE.length();
        assertTrue(fraction >= 0.1 && fraction < 0.1 + 2200.0 / SOURCE.length(), "held-out fraction " + fraction);
        assertTrue(trainLines.equals(sourceLines.stream().filter(l -> !heldoutLines.contains(l)).toList()),
                "training lines keep source order");
    }

    @Test
    void evalJsonlLinesParseWithStatedKeysLengthsAndSources(@TempDir Path dir) throws IOException {
        // reference: Jackson's tree parser on each line, not MemorizationSet
        write(dir.resolve("w"), OPTIONS);
        for (String name : List.of("duplicates", "canaries", "heldout")) {
            String source = switch (name) {
                case "duplicates" -> "duplicate";
                case "canaries" -> "canary";
                default -> "heldout";
            };
            List<String> lines = Files.readAllLines(dir.resolve("w/eval/" + name + ".jsonl"));
            assertEquals(name.equals("duplicates") ? 5 : name.equals("canaries") ? 3 : 6, lines.size(), name);
            Set<String> ids = new HashSet<>();
            for (String line : lines) {
                JsonNode node = JSON.readTree(line);
                List<String> keys = new ArrayList<>();
                node.fieldNames().forEachRemaining(keys::add);
                assertEquals(List.of("prompt", "suffix", "source", "id"), keys, line);
                assertEquals(64, node.get("prompt").asText().length(), line);
                assertEquals(48, node.get("suffix").asText().length(), line);
                assertEquals(source, node.get("source").asText(), line);
                assertTrue(ids.add(node.get("id").asText()), "duplicate id in " + line);
            }
        }
    }

    @Test
    void manifestSha256MatchesTheFilesAndTheSource(@TempDir Path dir) throws Exception {
        // reference: MessageDigest SHA-256 over the bytes read back from disk and over the source as the test wrote it
        Path out = dir.resolve("w");
        write(out, OPTIONS);
        JsonNode manifest = JSON.readTree(out.resolve("manifest.json").toFile());
        JsonNode files = manifest.get("files");
        assertEquals(WorkbenchBuilder.FILES.size() - 1, files.size());
        for (String file : WorkbenchBuilder.FILES.subList(0, WorkbenchBuilder.FILES.size() - 1)) {
            byte[] bytes = Files.readAllBytes(out.resolve(file));
            assertEquals(sha256(bytes), files.get(file).get("sha256").asText(), file);
            assertEquals(bytes.length, files.get(file).get("bytes").asLong(), file);
        }
        assertEquals(sha256(SOURCE.getBytes(java.nio.charset.StandardCharsets.UTF_8)),
                manifest.get("source").get("sha256").asText());
        assertEquals(7, manifest.get("seed").asLong());
        assertEquals(7, manifest.get("options").get("canaryRepeats").asInt());
        assertEquals(Files.readString(out.resolve("train.txt")).length(),
                manifest.get("counts").get("trainChars").asLong());
    }

    @Test
    void writeRefusesAnExistingDirectoryAndLeavesNoTemporaryDirectory(@TempDir Path dir) throws IOException {
        // reference: the directory listing before and after
        Path out = dir.resolve("w");
        write(out, OPTIONS);
        assertThrows(FileAlreadyExistsException.class, () -> write(out, OPTIONS));
        assertThrows(IllegalArgumentException.class, () -> write(dir.resolve("x"), OPTIONS.withPassages(100000, 4)));
        try (var listing = Files.list(dir)) {
            assertEquals(List.of("w"), listing.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    void badOptionsNameTheOption() {
        // reference: the option names of WorkbenchOptions
        Function<Runnable, String> message = r -> assertThrows(IllegalArgumentException.class, r::run).getMessage();
        assertTrue(message.apply(() -> OPTIONS.withPassages(-1, 4)).contains("passages"));
        assertTrue(message.apply(() -> OPTIONS.withPassages(5, 0)).contains("duplicateCount"));
        assertTrue(message.apply(() -> OPTIONS.withCanaries(-2, 7, "ab")).contains("canaries"));
        assertTrue(message.apply(() -> OPTIONS.withCanaries(3, 0, "ab")).contains("canaryRepeats"));
        assertTrue(message.apply(() -> OPTIONS.withCanaries(3, 7, "a")).contains("canaryAlphabet"));
        assertTrue(message.apply(() -> OPTIONS.withCanaries(3, 7, "abca")).contains("canaryAlphabet"));
        assertTrue(message.apply(() -> OPTIONS.withHeldout(1.0, 2000, 6)).contains("heldoutFraction"));
        assertTrue(message.apply(() -> OPTIONS.withHeldout(0.0, 2000, 6)).contains("heldoutSamples"));
        assertTrue(message.apply(() -> OPTIONS.withLengths(0, 48)).contains("promptChars"));
        // needs the text: more passages or controls than it can hold, a split that holds out everything
        assertTrue(message.apply(() -> WorkbenchBuilder.compose(SOURCE, OPTIONS.withPassages(5000, 4)))
                .startsWith("passages = 5000"));
        assertTrue(message.apply(() -> WorkbenchBuilder.compose(SOURCE, OPTIONS.withHeldout(0.1, 2000, 5000)))
                .startsWith("heldoutSamples = 5000"));
        assertTrue(message.apply(() -> WorkbenchBuilder.compose(SOURCE, OPTIONS.withHeldout(0.5, 1 << 20, 6)))
                .contains("heldoutBlockChars"));
        assertTrue(message.apply(() -> WorkbenchBuilder.compose("", OPTIONS)).contains("empty"));
    }

    @Test
    void lineEndingsAreNormalisedBeforeAnything() {
        // reference: the same text with '\n' line endings
        WorkbenchCorpus lf = WorkbenchBuilder.compose(SOURCE, OPTIONS);
        WorkbenchCorpus crlf = WorkbenchBuilder.compose(SOURCE.replace("\n", "\r\n"), OPTIONS);
        assertEquals(lf, crlf);
    }

    @Test
    void kjvReferencesAreStrippedAndALineWithoutOneIsAnError() throws IOException {
        // reference: `bible -f` output format, e.g. "Ge1:1 In the beginning ...", "1Cor13:4 Charity ..."
        String out = "Ge1:1 In the beginning God created the heaven and the earth.\n"
                + "SSol1:1 The song of songs, which is Solomon's.\n1Cor13:4 Charity suffereth long, and is kind;\n";
        assertEquals("In the beginning God created the heaven and the earth.\nThe song of songs, which is Solomon's.\n"
                + "Charity suffereth long, and is kind;\n", CorpusSource.KjvBible.stripReferences(out, "x"));
        IOException e = assertThrows(IOException.class,
                () -> CorpusSource.KjvBible.stripReferences("Ge1:1 ok\nno reference here\n", "x"));
        assertTrue(e.getMessage().contains("line 2"), e.getMessage());
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    @Test
    void cleanTrainingSplitIsTrainWithoutItsInsertedCopies() {
        // reference: train.txt with every inserted copy line removed, by a naive line-by-line scan
        WorkbenchCorpus corpus = WorkbenchBuilder.compose(SOURCE, OPTIONS);
        for (MemorizationSample canary : corpus.canaries()) {
            assertEquals(0, occurrences(corpus.trainClean(), canary.prompt()), canary.id());
        }
        for (MemorizationSample passage : corpus.duplicates()) {
            assertEquals(1, occurrences(corpus.trainClean(), passage.text()), passage.id());
        }
        java.util.Set<String> copies = new java.util.HashSet<>();
        corpus.canaries().forEach(c -> copies.add(c.text()));
        corpus.duplicates().forEach(d -> copies.add(d.text()));
        List<String> kept = new java.util.ArrayList<>(Arrays.asList(corpus.train().split("\n", -1)));
        // lines are whole source lines here (each longer than a passage), so a copy line is never a source line;
        // a duplicated passage's original is inside a longer source line and stays
        kept.removeIf(copies::contains);
        assertEquals(String.join("\n", kept), corpus.trainClean());
        assertEquals(corpus.counts().trainSourceChars(), corpus.trainClean().length());
        assertEquals(0, occurrences(corpus.heldout(), corpus.trainClean().substring(0, 200)));
    }

    @Test
    void manifestRebuildsTheSameWorkbenchAndRefusesAnotherSource(@TempDir Path dir) throws IOException {
        // reference: the corpus composed directly, and the files written beside the manifest
        Path out = dir.resolve("w");
        write(out, OPTIONS);
        WorkbenchManifest manifest = WorkbenchManifest.read(out.resolve("manifest.json"));
        assertEquals(OPTIONS, manifest.options());
        assertEquals("text synthetic", manifest.sourceDescription());
        WorkbenchCorpus rebuilt = manifest.rebuild(new CorpusSource.Text("synthetic", SOURCE));
        assertEquals(Files.readString(out.resolve("train.txt")), rebuilt.train());
        assertEquals(Files.readString(out.resolve("train-clean.txt")), rebuilt.trainClean());
        assertEquals(Files.readString(out.resolve("heldout.txt")), rebuilt.heldout());
        assertEquals(MemorizationSet.read(out.resolve("eval/canaries.jsonl")), rebuilt.canaries());

        var other = assertThrows(IOException.class,
                () -> manifest.rebuild(new CorpusSource.Text("synthetic", SOURCE + "one more line.\n")));
        assertTrue(other.getMessage().contains(manifest.sourceSha256()), other.getMessage());
        var notKjv = assertThrows(IOException.class, manifest::source);
        assertTrue(notKjv.getMessage().contains("text synthetic"), notKjv.getMessage());
        // a recorded hash that does not match, and one missing: both refused, naming the file
        String json = Files.readString(out.resolve("manifest.json"));
        String heldoutSha = manifest.fileSha256().get("heldout.txt");
        Files.writeString(dir.resolve("tampered.json"), json.replace(heldoutSha, "0".repeat(64)));
        var tampered = assertThrows(IOException.class, () -> WorkbenchManifest.read(dir.resolve("tampered.json"))
                .rebuild(new CorpusSource.Text("synthetic", SOURCE)));
        assertTrue(tampered.getMessage().contains("heldout.txt") && tampered.getMessage().contains(heldoutSha),
                tampered.getMessage());
        JsonNode tree = JSON.readTree(json);
        ((com.fasterxml.jackson.databind.node.ObjectNode) tree.get("files")).remove("eval/canaries.jsonl");
        Files.writeString(dir.resolve("missing.json"), tree.toString());
        var missing = assertThrows(IOException.class, () -> WorkbenchManifest.read(dir.resolve("missing.json"))
                .rebuild(new CorpusSource.Text("synthetic", SOURCE)));
        assertTrue(missing.getMessage().contains("eval/canaries.jsonl"), missing.getMessage());
        Files.writeString(dir.resolve("bad.json"), "{\"format\": \"something else\"}");
        var bad = assertThrows(IOException.class, () -> WorkbenchManifest.read(dir.resolve("bad.json")));
        assertTrue(bad.getMessage().contains("bad.json"), bad.getMessage());
    }
}
