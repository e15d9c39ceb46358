package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.engine.CpuBackend;
import dev.curvature.kfac.FactorStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code curvature merge}: adds factor shards. */
@Command(name = "merge", mixinStandardHelpOptions = true,
        description = {"Adds K-FAC factor shards collected separately.",
                "",
                "Sums and position counts are added in the order given. Shards must come from the same model "
                        + "(weights fingerprint), label mode and layer set; anything else is refused naming the shard.",
                "",
                "Prints a summary (file, shards, layers, tokens, positions) on stderr; --json also prints the "
                        + "merged file's description as JSON on stdout."})
final class MergeCommand implements Callable<Integer> {
    @Parameters(arity = "2..*", paramLabel = "SHARD", description = "Factor files to add, in this order.")
    List<Path> shards;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "Merged factor file to write.")
    Path out;

    @Mixin
    ReportOutput output;

    @Override
    public Integer call() throws Exception {
        OutputPaths.requireDistinct("--out", out, java.util.Map.of("shard", shards));
        try (OutputFiles.Lock lock = OutputFiles.lock(out); Backend backend = new CpuBackend();
             FactorStore.Loaded merged = FactorStore.merge(backend, shards)) {
            OutputFiles.cleanLeftovers(out);
            FactorStore.write(out, merged.factors(), merged.description());
            output.print(merged.description(), CollectCommand.summary(out, merged.description())
                    + String.format("%d shards added in the order given%n", shards.size()));
            return 0;
        }
    }
}
