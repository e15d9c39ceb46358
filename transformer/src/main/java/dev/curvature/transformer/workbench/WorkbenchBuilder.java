package dev.curvature.transformer.workbench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.curvature.transformer.checkpoint.AtomicDirectory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * Builds the memorization workbench: a training corpus in which some passages occur k times and random canaries
 * k_c times, a held-out split, and the eval sets that ask whether a model recites them. Deterministic: the same
 * source text, options and seed give byte-identical files.
 *
 * <p>The recipe, in order (each step draws from its own {@link SplittableRandom} split off the seed, so e.g. changing
 * the number of canaries does not move the split):
 * <ol>
 * <li>Line endings become '\n'; the text is a list of lines.</li>
 * <li>Split: consecutive whole lines are grouped into blocks of at least heldoutBlockChars characters; blocks are
 *     shuffled and held out until they hold heldoutFraction of the characters. heldout.txt is the held-out blocks in
 *     source order; the other lines, in order, are the training split (train-clean.txt).</li>
 * <li>Duplicated passages: windows of promptChars + suffixChars characters of the training split that start at the
 *     start of a line, stay inside one block (they may run over line ends), neither start nor end with '\n', and whose
 *     prompt occurs exactly once in the training split, so the suffix is what the prompt predicts. Chosen uniformly
 *     without replacement. Each gets duplicateCount - 1 inserted copies, so it occurs duplicateCount times.</li>
 * <li>Canaries: prompt = promptChars characters, then secret suffix = suffixChars characters, each drawn uniformly
 *     and independently from canaryAlphabet; a canary whose prompt occurs in the source is drawn again. Each is
 *     inserted canaryRepeats times.</li>
 * <li>Placement: every inserted copy is its own line ("copy\n"). The copies are shuffled, and each is put at a
 *     uniformly random line boundary of the training split (with replacement; copies at one boundary keep their
 *     shuffled order), except boundaries inside a duplicated passage's original, which would break it.</li>
 * <li>Held-out controls: windows of the held-out blocks chosen as in 3, kept only if their prompt occurs nowhere in
 *     the final train.txt (so neither does prompt + suffix).</li>
 * </ol>
 * Lengths are counted in {@code char}s; windows never split a surrogate pair.
 */
public final class WorkbenchBuilder {
    /** The manifest's {@code format} value. */
    public static final String FORMAT = "curvature-memorization-workbench/1";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private WorkbenchBuilder() {
    }

    /** The files written, their SHA-256 (lowercase hex) by relative path, and the corpus they hold. */
    public record WorkbenchFiles(Path directory, Map<String, String> sha256, String sourceSha256,
                                 WorkbenchCorpus corpus) {
        public WorkbenchFiles {
            sha256 = Map.copyOf(sha256);
        }
    }

    /** Relative paths of the files, in the order they are written. */
    public static final List<String> FILES = List.of("train.txt", "train-clean.txt", "heldout.txt",
            "eval/duplicates.jsonl", "eval/canaries.jsonl", "eval/heldout.jsonl", "manifest.json");

    /**
     * Reads {@code source}, composes the workbench and writes it to {@code outputDir}, which must not exist: the files
     * go to a temporary sibling directory first, which is then renamed, so {@code outputDir} is complete or absent.
     */
    public static WorkbenchFiles write(CorpusSource source, WorkbenchOptions options, Path outputDir)
            throws IOException {
        return write(source, options, null, outputDir);
    }

    /**
     * As {@link #write(CorpusSource, WorkbenchOptions, Path)}, with task data (when {@code tasks} is not null): its
     * training lines are placed in train.txt like the inserted copies, its eval sets written to
     * eval/tasks/NAME.jsonl, its options and counts recorded in the manifest.
     */
    public static WorkbenchFiles write(CorpusSource source, WorkbenchOptions options, TaskOptions tasks,
                                       Path outputDir) throws IOException {
        String text = normalise(source.read());
        TaskSuite suite = tasks == null ? null : TaskSuite.generate(tasks);
        WorkbenchCorpus corpus = compose(text, options, suite == null ? List.of() : suite.trainLines());
        Path target = outputDir.toAbsolutePath().normalize();
        if (Files.exists(target)) {
            throw new FileAlreadyExistsException(target.toString(), null,
                    "output directory exists; remove it or choose another");
        }
        Path parent = target.getParent();
        Files.createDirectories(parent);
        Path temporary = Files.createDirectory(AtomicDirectory.temporarySibling(target, ".new"));
        try {
            Map<String, String> contents = contents(corpus);
            if (suite != null) {
                Files.createDirectories(temporary.resolve("eval/tasks"));
                for (var set : suite.evalSets().entrySet()) {
                    contents.put("eval/tasks/" + set.getKey() + ".jsonl", TaskSuite.toJsonl(set.getValue()));
                }
            }
            Map<String, String> sha256 = new LinkedHashMap<>();
            Map<String, Long> bytes = new LinkedHashMap<>();
            Files.createDirectories(temporary.resolve("eval"));
            for (var entry : contents.entrySet()) {
                byte[] data = entry.getValue().getBytes(StandardCharsets.UTF_8);
                Files.write(temporary.resolve(entry.getKey()), data);
                sha256.put(entry.getKey(), sha256(data));
                bytes.put(entry.getKey(), (long) data.length);
            }
            String sourceSha256 = sha256(text.getBytes(StandardCharsets.UTF_8));
            byte[] manifest = manifest(source, options, tasks, suite, corpus, sourceSha256, sha256, bytes)
                    .getBytes(StandardCharsets.UTF_8);
            Files.write(temporary.resolve("manifest.json"), manifest);
            Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE);
            sha256.put("manifest.json", sha256(manifest));
            return new WorkbenchFiles(target, sha256, sourceSha256, corpus);
        } finally {
            if (Files.exists(temporary)) {
                deleteTree(temporary);
            }
        }
    }

    /** The text files of a workbench by relative path, in the order they are written (all but manifest.json). */
    static Map<String, String> contents(WorkbenchCorpus corpus) {
        Map<String, String> contents = new LinkedHashMap<>();
        contents.put("train.txt", corpus.train());
        contents.put("train-clean.txt", corpus.trainClean());
        contents.put("heldout.txt", corpus.heldout());
        contents.put("eval/duplicates.jsonl", MemorizationSet.toJsonl(corpus.duplicates()));
        contents.put("eval/canaries.jsonl", MemorizationSet.toJsonl(corpus.canaries()));
        contents.put("eval/heldout.jsonl", MemorizationSet.toJsonl(corpus.heldoutControls()));
        return contents;
    }

    /** '\r\n' and '\r' become '\n'; the text ends with exactly one '\n' unless empty. */
    static String normalise(String text) {
        String t = text.replace("\r\n", "\n").replace('\r', '\n');
        int end = t.length();
        while (end > 0 && t.charAt(end - 1) == '\n') {
            end--;
        }
        return end == 0 ? "" : t.substring(0, end) + "\n";
    }

    /** The workbench in memory, from {@code sourceText} (normalised as {@link #write} does). */
    public static WorkbenchCorpus compose(String sourceText, WorkbenchOptions options) {
        return compose(sourceText, options, List.of());
    }

    /**
     * As {@link #compose(String, WorkbenchOptions)}, with {@code extraLines} (task data; no '\n' inside) placed in
     * train.txt exactly as the inserted copies are (step 5), shuffled together with them.
     */
    public static WorkbenchCorpus compose(String sourceText, WorkbenchOptions options, List<String> extraLines) {
        String text = normalise(sourceText);
        if (text.isEmpty()) {
            throw new IllegalArgumentException("source text is empty");
        }
        String[] lines = text.substring(0, text.length() - 1).split("\n", -1);
        SplittableRandom root = new SplittableRandom(options.seed());
        SplittableRandom splitRandom = root.split();
        SplittableRandom passageRandom = root.split();
        SplittableRandom canaryRandom = root.split();
        SplittableRandom placementRandom = root.split();
        SplittableRandom heldoutRandom = root.split();

        // 1. blocks of whole lines, ≥ heldoutBlockChars each (the last may be shorter)
        List<int[]> blocks = new ArrayList<>(); // {firstLine, endLine}
        long[] blockChars;
        {
            int first = 0;
            long chars = 0;
            List<Long> sizes = new ArrayList<>();
            for (int i = 0; i < lines.length; i++) {
                chars += lines[i].length() + 1;
                if (chars >= options.heldoutBlockChars() || i == lines.length - 1) {
                    blocks.add(new int[]{first, i + 1});
                    sizes.add(chars);
                    first = i + 1;
                    chars = 0;
                }
            }
            blockChars = sizes.stream().mapToLong(Long::longValue).toArray();
        }

        // 2. held-out blocks
        boolean[] heldoutBlock = new boolean[blocks.size()];
        int heldoutBlocks = 0;
        if (options.heldoutFraction() > 0) {
            int[] order = permutation(blocks.size(), splitRandom);
            double want = options.heldoutFraction() * text.length();
            long have = 0;
            for (int b : order) {
                if (have >= want) {
                    break;
                }
                heldoutBlock[b] = true;
                have += blockChars[b];
                heldoutBlocks++;
            }
            if (heldoutBlocks == blocks.size()) {
                throw new IllegalArgumentException("heldoutFraction = " + options.heldoutFraction()
                        + " with heldoutBlockChars = " + options.heldoutBlockChars() + " holds out all "
                        + blocks.size() + " blocks of the " + text.length() + "-character source; use smaller blocks");
            }
        }
        Split train = new Split();
        Split heldout = new Split();
        for (int b = 0; b < blocks.size(); b++) {
            (heldoutBlock[b] ? heldout : train).addBlock(lines, blocks.get(b)[0], blocks.get(b)[1]);
        }
        String trainSource = train.text.toString();

        // 3. duplicated passages
        int passageChars = options.passageChars();
        List<MemorizationSample> duplicates = new ArrayList<>();
        List<int[]> passageSpans = new ArrayList<>(); // {start, end} in trainSource
        if (options.passages() > 0) {
            int[] candidates = train.windowStarts(passageChars, options.promptChars());
            shuffle(candidates, passageRandom);
            for (int start : candidates) {
                if (duplicates.size() == options.passages()) {
                    break;
                }
                String prompt = trainSource.substring(start, start + options.promptChars());
                if (trainSource.indexOf(prompt) != start || trainSource.indexOf(prompt, start + 1) >= 0) {
                    continue;
                }
                duplicates.add(new MemorizationSample(prompt,
                        trainSource.substring(start + options.promptChars(), start + passageChars),
                        MemorizationSample.Source.DUPLICATE, String.format("duplicate-%02d", duplicates.size())));
                passageSpans.add(new int[]{start, start + passageChars});
            }
            if (duplicates.size() < options.passages()) {
                throw new IllegalArgumentException("passages = " + options.passages() + " but the training split ("
                        + trainSource.length() + " characters) holds only " + duplicates.size() + " windows of "
                        + passageChars + " characters that start a line, stay in one block and have a prompt found"
                        + " nowhere else");
            }
        }

        // 4. canaries
        List<MemorizationSample> canaries = new ArrayList<>();
        TreeSet<String> canaryPrompts = new TreeSet<>();
        String alphabet = options.canaryAlphabet();
        while (canaries.size() < options.canaries()) {
            String prompt = randomString(options.promptChars(), alphabet, canaryRandom);
            String suffix = randomString(options.suffixChars(), alphabet, canaryRandom);
            if (text.contains(prompt) || !canaryPrompts.add(prompt)) {
                continue; // only possible with short prompts or tiny alphabets; drawn again, deterministically
            }
            canaries.add(new MemorizationSample(prompt, suffix, MemorizationSample.Source.CANARY,
                    String.format("canary-%02d", canaries.size())));
        }

        // 5. placement of inserted copies at allowed line boundaries of the training split
        List<String> copies = new ArrayList<>();
        for (MemorizationSample d : duplicates) {
            for (int c = 1; c < options.duplicateCount(); c++) {
                copies.add(d.text());
            }
        }
        for (MemorizationSample c : canaries) {
            for (int r = 0; r < options.canaryRepeats(); r++) {
                copies.add(c.text());
            }
        }
        for (String line : extraLines) {
            if (line.indexOf('\n') >= 0) {
                throw new IllegalArgumentException("an inserted task line holds a line break: " + line);
            }
            copies.add(line);
        }
        int[] slots = train.allowedSlots(passageSpans);
        String[] shuffledCopies = copies.toArray(String[]::new);
        shuffle(shuffledCopies, placementRandom);
        int[][] placed = new int[shuffledCopies.length][]; // {slot, copy index}
        for (int i = 0; i < shuffledCopies.length; i++) {
            placed[i] = new int[]{slots[placementRandom.nextInt(slots.length)], i};
        }
        Arrays.sort(placed, Comparator.<int[]>comparingInt(p -> p[0]).thenComparingInt(p -> p[1]));
        StringBuilder trainText = new StringBuilder(trainSource.length()
                + copies.stream().mapToInt(s -> s.length() + 1).sum());
        int next = 0;
        for (int line = 0; line <= train.lines.size(); line++) {
            while (next < placed.length && placed[next][0] == line) {
                trainText.append(shuffledCopies[placed[next++][1]]).append('\n');
            }
            if (line < train.lines.size()) {
                trainText.append(train.lines.get(line)).append('\n');
            }
        }
        String trainFinal = trainText.toString();

        // 6. held-out controls
        String heldoutText = heldout.text.toString();
        List<MemorizationSample> controls = new ArrayList<>();
        if (options.heldoutSamples() > 0) {
            int[] candidates = heldout.windowStarts(passageChars, options.promptChars());
            shuffle(candidates, heldoutRandom);
            TreeSet<String> prompts = new TreeSet<>();
            for (int start : candidates) {
                if (controls.size() == options.heldoutSamples()) {
                    break;
                }
                String prompt = heldoutText.substring(start, start + options.promptChars());
                if (trainFinal.contains(prompt) || !prompts.add(prompt)) {
                    continue;
                }
                controls.add(new MemorizationSample(prompt,
                        heldoutText.substring(start + options.promptChars(), start + passageChars),
                        MemorizationSample.Source.HELDOUT, String.format("heldout-%02d", controls.size())));
            }
            if (controls.size() < options.heldoutSamples()) {
                throw new IllegalArgumentException("heldoutSamples = " + options.heldoutSamples()
                        + " but the held-out split (" + heldoutText.length() + " characters) holds only "
                        + controls.size() + " windows of " + passageChars + " characters that start a line, stay in"
                        + " one block and have a prompt found nowhere in train.txt");
            }
        }

        var counts = new WorkbenchCorpus.Counts(text.length(), lines.length, blocks.size(), heldoutBlocks,
                trainSource.length(), trainFinal.length(), heldoutText.length(), duplicates.size(),
                duplicates.size() * (options.duplicateCount() - 1), canaries.size(),
                canaries.size() * options.canaryRepeats(), controls.size());
        return new WorkbenchCorpus(trainFinal, trainSource, heldoutText, duplicates, canaries, controls, counts);
    }

    /** Lines of one split, their start offsets in its text, and the end offset of the block each belongs to. */
    private static final class Split {
        final List<String> lines = new ArrayList<>();
        final List<Integer> lineStart = new ArrayList<>();
        final List<Integer> blockEnd = new ArrayList<>();
        final StringBuilder text = new StringBuilder();

        void addBlock(String[] source, int first, int end) {
            int blockStart = lines.size();
            for (int i = first; i < end; i++) {
                lines.add(source[i]);
                lineStart.add(text.length());
                text.append(source[i]).append('\n');
            }
            for (int i = blockStart; i < lines.size(); i++) {
                blockEnd.add(text.length());
            }
        }

        /** Starts of line-initial windows of {@code length} inside one block, not starting or ending with '\n'. */
        int[] windowStarts(int length, int promptChars) {
            List<Integer> starts = new ArrayList<>();
            for (int i = 0; i < lines.size(); i++) {
                int start = lineStart.get(i);
                int end = start + length;
                if (end > blockEnd.get(i) || text.charAt(start) == '\n' || text.charAt(end - 1) == '\n'
                        || splitsSurrogate(start + promptChars) || splitsSurrogate(end)) {
                    continue;
                }
                starts.add(start);
            }
            return starts.stream().mapToInt(Integer::intValue).toArray();
        }

        private boolean splitsSurrogate(int at) {
            return at > 0 && at < text.length() && Character.isHighSurrogate(text.charAt(at - 1))
                    && Character.isLowSurrogate(text.charAt(at));
        }

        /** Line boundaries 0..lines (before line i; lines = after the last) not strictly inside a span. */
        int[] allowedSlots(List<int[]> spans) {
            boolean[] forbidden = new boolean[lines.size() + 1];
            for (int[] span : spans) {
                for (int i = 0; i < lines.size(); i++) {
                    int at = lineStart.get(i);
                    if (at > span[0] && at < span[1]) {
                        forbidden[i] = true;
                    }
                }
            }
            int[] slots = new int[lines.size() + 1];
            int n = 0;
            for (int i = 0; i <= lines.size(); i++) {
                if (!forbidden[i]) {
                    slots[n++] = i;
                }
            }
            return Arrays.copyOf(slots, n);
        }
    }

    private static String randomString(int length, String alphabet, SplittableRandom random) {
        char[] chars = new char[length];
        for (int i = 0; i < length; i++) {
            chars[i] = alphabet.charAt(random.nextInt(alphabet.length()));
        }
        return new String(chars);
    }

    private static int[] permutation(int n, SplittableRandom random) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        shuffle(order, random);
        return order;
    }

    /** Fisher–Yates. */
    private static void shuffle(int[] a, SplittableRandom random) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    private static <T> void shuffle(T[] a, SplittableRandom random) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            T t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    private static String manifest(CorpusSource source, WorkbenchOptions options, TaskOptions tasks,
                                   TaskSuite suite, WorkbenchCorpus corpus, String sourceSha256, Map<String, String> sha256, Map<String, Long> bytes)
            throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        root.put("seed", options.seed());
        ObjectNode src = root.putObject("source");
        src.put("description", source.description());
        src.put("sha256", sourceSha256);
        src.put("sha256Of", "UTF-8 bytes of the source text after line-ending normalisation");
        src.put("characters", corpus.counts().sourceChars());
        src.put("lines", corpus.counts().sourceLines());
        ObjectNode opts = root.putObject("options");
        opts.put("seed", options.seed());
        opts.put("heldoutFraction", options.heldoutFraction());
        opts.put("heldoutBlockChars", options.heldoutBlockChars());
        opts.put("passages", options.passages());
        opts.put("duplicateCount", options.duplicateCount());
        opts.put("canaries", options.canaries());
        opts.put("canaryRepeats", options.canaryRepeats());
        opts.put("canaryAlphabet", options.canaryAlphabet());
        opts.put("promptChars", options.promptChars());
        opts.put("suffixChars", options.suffixChars());
        opts.put("heldoutSamples", options.heldoutSamples());
        ObjectNode counts = root.putObject("counts");
        var c = corpus.counts();
        counts.put("sourceChars", c.sourceChars());
        counts.put("sourceLines", c.sourceLines());
        counts.put("blocks", c.blocks());
        counts.put("heldoutBlocks", c.heldoutBlocks());
        counts.put("trainSourceChars", c.trainSourceChars());
        counts.put("trainChars", c.trainChars());
        counts.put("heldoutChars", c.heldoutChars());
        counts.put("passages", c.passages());
        counts.put("passageOccurrencesInTrain", options.duplicateCount());
        counts.put("insertedDuplicateCopies", c.insertedDuplicateCopies());
        counts.put("canaries", c.canaries());
        counts.put("canaryOccurrencesInTrain", options.canaryRepeats());
        counts.put("insertedCanaryCopies", c.insertedCanaryCopies());
        counts.put("heldoutControls", c.heldoutControls());
        if (tasks != null) {
            ObjectNode t = root.putObject("tasks");
            ObjectNode topts = t.putObject("options");
            topts.put("seed", tasks.seed());
            topts.put("factEntities", tasks.factEntities());
            topts.put("factCopies", tasks.factCopies());
            topts.put("openBookTrain", tasks.openBookTrain());
            topts.put("openBookUnseen", tasks.openBookUnseen());
            topts.put("arithmeticTrain", tasks.arithmeticTrain());
            topts.put("arithmeticEval", tasks.arithmeticEval());
            topts.put("operandDigits", tasks.operandDigits());
            topts.put("sumCopies", tasks.sumCopies());
            t.put("trainLines", suite.trainLines().size());
            t.put("trainChars", suite.trainChars());
            ObjectNode sizes = t.putObject("evalSamples");
            suite.evalSets().forEach((name, set) -> sizes.put(name, set.size()));
        }
        ObjectNode files = root.putObject("files");
        for (var entry : sha256.entrySet()) {
            ObjectNode f = files.putObject(entry.getKey());
            f.put("sha256", entry.getValue());
            f.put("bytes", bytes.get(entry.getKey()));
        }
        root.put("placement", "each inserted copy is its own line, at a uniformly random line boundary of the"
                + " training split (with replacement), excluding boundaries inside a duplicated passage's original;"
                + " a duplicated passage occurs duplicateCount times (original + duplicateCount - 1 copies), a canary"
                + " canaryRepeats times");
        return JSON.writeValueAsString(root) + "\n";
    }

    static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
