package dev.curvature.cli;

import dev.curvature.transformer.workbench.CorpusSource;
import dev.curvature.transformer.workbench.TaskOptions;
import dev.curvature.transformer.workbench.WorkbenchBuilder;
import dev.curvature.transformer.workbench.WorkbenchCorpus;
import dev.curvature.transformer.workbench.WorkbenchOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/** {@code curvature workbench}: builds the memorization workbench corpus. */
@Command(name = "workbench", mixinStandardHelpOptions = true,
        description = {"Builds a corpus with controlled memorization, deterministically from a seed.",
                "",
                "From a source text (default: the King James Bible of Debian's bible-kjv, verse references "
                        + "stripped) it writes train.txt (with duplicated passages and random canary strings inserted "
                        + "k times each at random line boundaries), train-clean.txt (the training split without the "
                        + "insertions: clean held-in text for K-FAC factors), heldout.txt (whole blocks never in train), "
                        + "eval/duplicates.jsonl, eval/canaries.jsonl, eval/heldout.jsonl (prompt/suffix pairs) and "
                        + "manifest.json (options, counts, SHA-256 of the source and of every file).",
                "",
                "Prints a summary (directory, sizes, counts) on stderr; --json also prints the counts and "
                        + "SHA-256s as JSON on stdout."})
final class WorkbenchCommand implements Callable<Integer> {
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Directory to create (must not exist).")
    Path out;

    @Option(names = "--source", paramLabel = "FILE", description = "UTF-8 text to build from (default: the KJV Bible "
            + "via the 'bible' command of bible-kjv).")
    Path source;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of every random choice (default: "
            + "${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--passages", paramLabel = "N", description = "Duplicated passages (default: 32).")
    Integer passages;

    @Option(names = "--duplicates", paramLabel = "K", description = "Copies of each duplicated passage (default: 8).")
    Integer duplicates;

    @Option(names = "--canaries", paramLabel = "N", description = "Random canary strings (default: 9).")
    Integer canaries;

    @Option(names = "--canary-repeats", paramLabel = "K", description = "Copies of each canary (default: 160).")
    Integer canaryRepeats;

    @Option(names = "--tasks", description = "Also mix synthetic task data into train.txt (from --seed): closed-book "
            + "facts about invented entities (each question-answer line 20 times), open-book lines stating a fact and "
            + "asking it, 2-3 digit sums; and write their held-out eval sets eval/tasks/{closed-book, open-book, "
            + "open-book-unseen, arithmetic}.jsonl for the 'eval' command.")
    boolean tasks;

    @Option(names = "--facts", paramLabel = "N", description = "With --tasks: invented entities of the closed-book "
            + "facts, 2 facts each (default: 100).")
    Integer facts;

    @Option(names = "--fact-copies", paramLabel = "K", description = "With --tasks: copies of each fact's "
            + "question-answer line in train.txt (default: 20).")
    Integer factCopies;

    @Option(names = "--open-book-lines", paramLabel = "N", description = "With --tasks: open-book training lines on "
            + "fresh entities (default: 4000).")
    Integer openBookLines;

    @Option(names = "--sums", paramLabel = "N", description = "With --tasks: distinct training sums a+b=c. "
            + "(default: 30000; 300 more are held out).")
    Integer sums;

    @Option(names = "--operand-digits", paramLabel = "2|3", description = "With --tasks: 3 draws sum operands of 2 or 3 "
            + "digits (10-999, the digit count first); 2 draws them from 10-99 only, so sums have 2 or 3 digits and "
            + "there are 8100 problems in all, --sums + 600 at most (default: 3).")
    Integer operandDigits;

    @Option(names = "--sum-copies", paramLabel = "K", description = "With --tasks: copies of each training sum's line "
            + "in train.txt (default: 1).")
    Integer sumCopies;

    @Option(names = "--kjv-range", paramLabel = "RANGE", description = "Without --source: the part of the KJV to "
            + "build from, as the bible command takes it (default: gen1:1-rev22:21, the whole Bible).")
    String kjvRange;

    @Mixin
    ReportOutput output;

    @Override
    public Integer call() throws Exception {
        OutputPaths.requireDistinct("--out", out, "source (--source)", source);
        WorkbenchOptions options = WorkbenchOptions.defaults(seed);
        if (passages != null || duplicates != null) {
            options = options.withPassages(passages != null ? passages : options.passages(),
                    duplicates != null ? duplicates : options.duplicateCount());
        }
        if (canaries != null || canaryRepeats != null) {
            options = options.withCanaries(canaries != null ? canaries : options.canaries(),
                    canaryRepeats != null ? canaryRepeats : options.canaryRepeats(), options.canaryAlphabet());
        }
        if (source != null && kjvRange != null) {
            throw new IllegalArgumentException("--source and --kjv-range are two sources: give one");
        }
        CorpusSource from = source != null ? new CorpusSource.TextFile(source)
                : kjvRange != null ? new CorpusSource.KjvBible(kjvRange, false) : CorpusSource.KjvBible.whole();
        WorkbenchBuilder.WorkbenchFiles files;
        try (OutputFiles.Lock lock = OutputFiles.lock(out)) {
            OutputFiles.cleanLeftovers(out);
            files = WorkbenchBuilder.write(from, options, taskOptions(), out);
        }
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("directory", files.directory().toString());
        report.put("counts", files.corpus().counts());
        report.put("sha256", new TreeMap<>(files.sha256()));
        report.put("source", from.description());
        output.print(report, summary(files.directory(), from.description(), files.corpus().counts()));
        return 0;
    }

    /** The task options of --tasks and its sizing options (which need --tasks), else null. */
    private TaskOptions taskOptions() {
        if (!tasks) {
            if (facts != null || factCopies != null || openBookLines != null || sums != null
                    || operandDigits != null || sumCopies != null) {
                throw new IllegalArgumentException("--facts, --fact-copies, --open-book-lines, --sums, "
                        + "--operand-digits and --sum-copies size the task data: they need --tasks");
            }
            return null;
        }
        TaskOptions d = TaskOptions.defaults(seed);
        return new TaskOptions(seed, facts != null ? facts : d.factEntities(),
                factCopies != null ? factCopies : d.factCopies(), openBookLines != null ? openBookLines
                : d.openBookTrain(), d.openBookUnseen(), sums != null ? sums : d.arithmeticTrain(),
                d.arithmeticEval(), operandDigits != null ? operandDigits : d.operandDigits(),
                sumCopies != null ? sumCopies : d.sumCopies());
    }

    /** What was written where, with the sizes and counts of {@link WorkbenchCorpus.Counts}. */
    static String summary(Path directory, String source, WorkbenchCorpus.Counts c) {
        return String.format("workbench: %s%n", directory)
                + String.format("source: %s (%d chars, %d lines, %d blocks of which %d held out)%n", source,
                c.sourceChars(), c.sourceLines(), c.blocks(), c.heldoutBlocks())
                + String.format("train.txt: %d chars (%d passage copies and %d canary copies inserted); "
                        + "train-clean.txt: %d chars; heldout.txt: %d chars%n", c.trainChars(),
                c.insertedDuplicateCopies(), c.insertedCanaryCopies(), c.trainSourceChars(), c.heldoutChars())
                + String.format("eval: %d duplicated passages, %d canaries, %d held-out controls; manifest.json: "
                        + "options, counts, SHA-256 of every file%n", c.passages(), c.canaries(), c.heldoutControls());
    }
}
