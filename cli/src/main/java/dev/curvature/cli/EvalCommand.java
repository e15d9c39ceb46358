package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.eval.AbilityEval;
import dev.curvature.transformer.eval.RecitationEval;
import dev.curvature.transformer.eval.TaskEval;
import dev.curvature.transformer.model.CausalLm;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.tokenizer.Tokenizer;
import dev.curvature.transformer.train.TokenWindows;
import dev.curvature.transformer.workbench.MemorizationSample;
import dev.curvature.transformer.workbench.MemorizationSet;
import dev.curvature.transformer.workbench.TaskSample;
import dev.curvature.transformer.workbench.TaskSuite;
import dev.curvature.transformer.workbench.WorkbenchManifest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/** {@code curvature eval}: task accuracy, held-out perplexity and recitation of a model directory. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Measures what a model can still do: accuracy per task set, held-out perplexity and "
                + "recitation of memorized samples — on any model directory, e.g. your own edit beside the unedited "
                + "model (--baseline).",
                "",
                "Task sets are JSONL files of {\"prompt\", \"answer\", \"task\", \"id\"} (as 'workbench --tasks' "
                        + "writes them to eval/tasks/). A sample is correct when greedy decoding after the prompt "
                        + "(KV cache, as many tokens as the answer has) writes text that starts with the answer; "
                        + "answers end with a terminator ('.'), so a longer number is wrong. Perplexity: windows of "
                        + "the context length spread evenly over the held-out text; exp of the mean token loss and "
                        + "the mean over batches of exp(batch loss) (the paper's convention). Recitation: greedy "
                        + "suffix after each prompt, strict (exact) and loose (1 − Levenshtein/L ≥ 0.75).",
                "",
                "Prints a table on stderr (one row per model); --json also prints every figure and every "
                        + "sample's output as JSON on stdout."})
final class EvalCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--baseline", paramLabel = "DIR",
            description = "Also evaluate this model directory (e.g. the unedited model) on the same inputs, as the "
                    + "first row, and print each figure's change.")
    Path baseline;

    @Option(names = "--tasks", paramLabel = "DIR|FILE",
            description = "Task sets: a JSONL file, or a directory of *.jsonl files (the workbench's closed-book, "
                    + "open-book, open-book-unseen, arithmetic first, in that order, others by name; default: "
                    + "<model>/eval/tasks when it exists; 'none' for no tasks).")
    String tasks;

    @Option(names = "--recitation", paramLabel = "FILE",
            description = "Memorization samples, JSONL of {\"prompt\", \"suffix\", \"source\", \"id\"} as the "
                    + "workbench writes (default: <model>/eval/canaries.jsonl when it exists; 'none' to skip).")
    String recitation;

    @Option(names = "--text", paramLabel = "FILE",
            description = "Held-out text for perplexity (default: the heldout.txt of the model's workbench, rebuilt "
                    + "from <model>/workbench-manifest.json and checked against it, when that exists; 'none' to "
                    + "skip).")
    String text;

    @Option(names = "--eval-tokens", defaultValue = "16384", paramLabel = "N",
            description = "Held-out tokens for perplexity, in windows of the context length spread evenly over the "
                    + "text (default: ${DEFAULT-VALUE}, as the demo measures).")
    int evalTokens;

    @Option(names = "--batch", defaultValue = "16", paramLabel = "N",
            description = "Sequences per forward pass (default: ${DEFAULT-VALUE}; perplexity's mean over batches "
                    + "depends on it).")
    int batch;

    @Option(names = "--examples", defaultValue = "0", paramLabel = "N",
            description = "Also print the first N wrong answers of each task set (default: ${DEFAULT-VALUE}).")
    int examples;

    @Mixin
    ReportOutput output;

    @Override
    public Integer call() throws Exception {
        OptionRanges.require("--batch", batch, 1, Long.MAX_VALUE);
        OptionRanges.require("--eval-tokens", evalTokens, 1, Long.MAX_VALUE);
        OptionRanges.require("--examples", examples, 0, Long.MAX_VALUE);
        Path modelDir = modelOptions.model;
        requireModelDirectory("--model", modelDir);
        if (baseline != null) {
            requireModelDirectory("--baseline", baseline);
        }
        List<Path> taskFiles = taskFiles(tasks, modelDir);
        List<TaskSample> taskSamples = new ArrayList<>();
        for (Path f : taskFiles) {
            taskSamples.addAll(TaskSuite.read(f));
        }
        Path recitationFile = optionalFile("--recitation", recitation, modelDir.resolve("eval/canaries.jsonl"));
        String heldoutText = heldoutText(modelDir);
        if (taskSamples.isEmpty() && recitationFile == null && heldoutText == null) {
            throw new IllegalArgumentException("nothing to evaluate: no task sets, no recitation samples and no "
                    + "held-out text (give --tasks, --recitation or --text)");
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        List<AbilityEval.Result> results = new ArrayList<>();
        List<Path> models = new ArrayList<>();
        if (baseline != null) {
            models.add(baseline);
        }
        models.add(modelDir);
        try (Backend backend = modelOptions.backend()) {
            Tokenizer tokenizer = null;
            AbilityEval inputs = null;
            for (Path dir : models) {
                Model loaded = ModelCheckpoints.load(backend, dir, modelOptions.computeDtype());
                try {
                    if (!(loaded instanceof CausalLm lm)) {
                        throw new IllegalArgumentException(dir + " holds a " + loaded.config().modelType()
                                + " model: eval decodes text, so it needs a causal language model");
                    }
                    if (tokenizer == null) {
                        tokenizer = modelOptions.tokenizer(lm.config().vocabSize());
                        inputs = inputs(tokenizer, lm.config().contextLength(), taskSamples, recitationFile,
                                heldoutText);
                    } else if (tokenizer.vocabularySize() > lm.config().vocabSize()) {
                        throw new IllegalArgumentException(dir + " has a vocabulary of " + lm.config().vocabSize()
                                + " but the tokenizer has " + tokenizer.vocabularySize() + " tokens");
                    }
                    long t0 = System.nanoTime();
                    AbilityEval.Result result = inputs.evaluate(lm, tokenizer);
                    System.err.printf("evaluated %s in %.1f s%n", dir, (System.nanoTime() - t0) / 1e9);
                    results.add(result);
                    rows.add(EvalReport.json(dir.toString(), result));
                } finally {
                    loaded.parameters().close();
                }
            }
        }
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("taskFiles", taskFiles.stream().map(Path::toString).toList());
        report.put("recitation", recitationFile == null ? null : recitationFile.toString());
        report.put("models", rows);
        List<String> names = models.stream().map(p -> p.getFileName() == null ? p.toString()
                : p.getFileName().toString()).toList();
        String table = EvalReport.table(names, results);
        if (examples > 0) {
            table += EvalReport.wrongAnswers(names, results, examples);
        }
        output.print(report, table);
        return 0;
    }

    private AbilityEval inputs(Tokenizer tokenizer, int context, List<TaskSample> taskSamples, Path recitationFile,
                               String heldoutText) throws IOException {
        List<RecitationEval.Sample> recite = new ArrayList<>();
        if (recitationFile != null) {
            for (MemorizationSample s : MemorizationSet.read(recitationFile)) {
                recite.add(new RecitationEval.Sample(s.id(), s.source().jsonName(), tokenizer.encode(s.prompt()),
                        tokenizer.encode(s.suffix())));
            }
        }
        int[] heldout = new int[0];
        if (heldoutText != null) {
            int[] all = tokenizer.encode(heldoutText);
            if (all.length < context) {
                throw new IllegalArgumentException("the held-out text has " + all.length + " tokens, fewer than one "
                        + "window of the model's " + context + " positions");
            }
            heldout = TokenWindows.evenlySpaced(all, Math.max(1, evalTokens / context), context);
        }
        return new AbilityEval(taskSamples, recite, heldout, context, batch);
    }

    private static void requireModelDirectory(String option, Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException(option + " " + dir + ": no such directory");
        }
        if (!Files.isRegularFile(dir.resolve("config.json"))) {
            throw new IllegalArgumentException(option + " " + dir + ": no config.json (not a model directory)");
        }
    }

    /** The task files of --tasks (a file, a directory's *.jsonl, or 'none'), default the model's eval/tasks. */
    static List<Path> taskFiles(String option, Path modelDir) throws IOException {
        if ("none".equals(option)) {
            return List.of();
        }
        Path path = option != null ? Path.of(option) : modelDir.resolve("eval/tasks");
        if (option == null && !Files.isDirectory(path)) {
            return List.of();
        }
        if (Files.isRegularFile(path)) {
            return List.of(path);
        }
        if (!Files.isDirectory(path)) {
            throw new IllegalArgumentException("--tasks " + path + ": no such file or directory");
        }
        List<Path> files;
        try (Stream<Path> list = Files.list(path)) {
            // the workbench's sets in its report order (closed-book, open-book, ...), any others after, by name
            files = list.filter(p -> p.getFileName().toString().endsWith(".jsonl") && Files.isRegularFile(p))
                    .sorted(java.util.Comparator.comparingInt((Path p) -> setOrder(p)).thenComparing(Path::toString))
                    .toList();
        }
        if (files.isEmpty()) {
            throw new IllegalArgumentException("--tasks " + path + ": the directory holds no *.jsonl task set");
        }
        return files;
    }

    private static int setOrder(Path file) {
        String name = file.getFileName().toString();
        int at = TaskSuite.SETS.indexOf(name.substring(0, name.length() - ".jsonl".length()));
        return at < 0 ? Integer.MAX_VALUE : at;
    }

    private static Path optionalFile(String name, String option, Path fallback) {
        if ("none".equals(option)) {
            return null;
        }
        if (option == null) {
            return Files.isRegularFile(fallback) ? fallback : null;
        }
        Path p = Path.of(option);
        if (!Files.isRegularFile(p)) {
            throw new IllegalArgumentException(name + " " + p + ": no such file");
        }
        return p;
    }

    private String heldoutText(Path modelDir) throws IOException {
        if ("none".equals(text)) {
            return null;
        }
        if (text != null) {
            Path p = Path.of(text);
            if (!Files.isRegularFile(p)) {
                throw new IllegalArgumentException("--text " + p + ": no such file");
            }
            return Files.readString(p, StandardCharsets.UTF_8);
        }
        Path manifestFile = modelDir.resolve("workbench-manifest.json");
        if (!Files.isRegularFile(manifestFile)) {
            System.err.println("note: no --text and no " + manifestFile + ": perplexity not measured");
            return null;
        }
        WorkbenchManifest manifest = WorkbenchManifest.read(manifestFile);
        System.err.println("held-out text: heldout.txt of the workbench rebuilt from " + manifestFile);
        return manifest.rebuild(manifest.source()).heldout();
    }
}
