package dev.curvature.cli;

import dev.curvature.transformer.workbench.CorpusSource;
import dev.curvature.transformer.workbench.WorkbenchBuilder;
import dev.curvature.transformer.workbench.WorkbenchOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Map;
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
                        + "manifest.json (options, counts, SHA-256 of the source and of every file)."})
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

    @Override
    public Integer call() throws Exception {
        WorkbenchOptions options = WorkbenchOptions.defaults(seed);
        if (passages != null || duplicates != null) {
            options = options.withPassages(passages != null ? passages : options.passages(),
                    duplicates != null ? duplicates : options.duplicateCount());
        }
        if (canaries != null || canaryRepeats != null) {
            options = options.withCanaries(canaries != null ? canaries : options.canaries(),
                    canaryRepeats != null ? canaryRepeats : options.canaryRepeats(), options.canaryAlphabet());
        }
        CorpusSource from = source != null ? new CorpusSource.TextFile(source) : CorpusSource.KjvBible.whole();
        WorkbenchBuilder.WorkbenchFiles files = WorkbenchBuilder.write(from, options, out);
        System.out.println(Json.write(Map.of("directory", files.directory().toString(), "counts",
                files.corpus().counts(), "sha256", files.sha256(), "source", from.description())));
        return 0;
    }
}
