package dev.curvature.spark;

import dev.curvature.bindings.MissingNativeLibraryException;
import dev.curvature.engine.Backend;
import dev.curvature.engine.CpuBackend;
import dev.curvature.kfac.FactorCollection;
import dev.curvature.kfac.FactorStore;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.data.TextCorpus;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.tokenizer.ModelTokenizer;
import dev.curvature.transformer.tokenizer.Tokenizer;

import java.io.IOException;
import java.io.Serializable;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One task of a distributed collection: the library's own collection ({@link FactorCollection#run}) over one
 * corpus shard, written to that shard's factor file ({@code <out>.part-<index>}, atomically, resumable from its
 * checkpoint). The file is a pure function of the request and the shard, so a retried or speculative attempt writes
 * the same bytes; a shard already finished for this very request is kept, one of another request is refused.
 */
public final class ShardCollection {
    private ShardCollection() {
    }

    /**
     * What one shard task did, for the driver: {@code startedAtMillis} is the task's wall-clock start (to tell
     * executor launch and scheduling from collection), {@code where} the executor and its host.
     */
    public record Outcome(int index, String factors, boolean reused, long tokens, double meanLoss, double seconds,
                          long startedAtMillis, String where) implements Serializable {
    }

    /** Called after each batch with the batches done so far (a test's kill switch hangs here). */
    @FunctionalInterface
    public interface BatchHook {
        void afterBatch(long windowsDone) throws IOException;
    }

    /** Collects {@code shard} of {@code request} into {@code factors} with {@code threads} compute threads. */
    public static Outcome collect(CollectRequest request, CorpusManifest.Shard shard, Path factors, int threads,
                                  BatchHook hook) throws IOException {
        long startedAt = System.currentTimeMillis();
        long start = System.nanoTime();
        String host = hostName();
        org.apache.spark.SparkEnv env = org.apache.spark.SparkEnv.get();
        String where = (env == null ? "no executor" : "executor " + env.executorId()) + " on " + host;
        try (Backend backend = openBackend(CpuBackend::new, threads, host)) {
            Path modelDirectory = SharedInputs.localModel(request.model());
            Model model = ModelCheckpoints.load(backend, modelDirectory, request.dtype());
            try {
                Tokenizer tokenizer = ModelTokenizer.load(modelDirectory, request.tokenizer(),
                        model.config().vocabSize());
                FactorCollection.Options options = request.options(ModelTokenizer.digest(modelDirectory,
                        request.tokenizer(), tokenizer));
                int[] tokens = tokensOf(shard, factors, tokenizer);
                if (FactorCollection.isFinishedShard(model, tokens, options, factors)) {
                    long done;
                    try (FactorStore.Loaded finished = FactorStore.read(backend, factors)) {
                        done = finished.description().tokens();
                    }
                    return new Outcome(shard.index(), factors.toString(), true, done, Double.NaN, seconds(start), startedAt,
                            where);
                }
                FactorCollection.Result result = FactorCollection.run(model, tokens, options, factors,
                        (windows, total, tokensDone) -> {
                            try {
                                hook.afterBatch(windows);
                            } catch (IOException e) {
                                throw new java.io.UncheckedIOException(e);
                            }
                        });
                return new Outcome(shard.index(), factors.toString(), false, result.description().tokens(),
                        result.meanLoss(), seconds(start), startedAt, where);
            } finally {
                model.parameters().close();
            }
        }
    }

    /**
     * The shard's token ids: its text (a byte range or a file at a URI copied beside the factor file first) through
     * the tokenizer.
     */
    private static int[] tokensOf(CorpusManifest.Shard shard, Path factors, Tokenizer tokenizer) throws IOException {
        if (!shard.isRange() && !SharedInputs.isUri(shard.path())) {
            return TextCorpus.read(Path.of(shard.path())).tokens(tokenizer);
        }
        Path scratch = Files.createTempDirectory(factors.toAbsolutePath().getParent(),
                "." + factors.getFileName() + ".text-");
        try {
            Path text = CorpusManifest.textOf(shard, scratch);
            try {
                return TextCorpus.read(text).tokens(tokenizer);
            } finally {
                Files.deleteIfExists(text);
            }
        } finally {
            Files.deleteIfExists(scratch);
        }
    }

    /** The CPU backend, or an error that says which executor host lacks OpenBLAS and what to install. */
    static Backend openBackend(java.util.function.IntFunction<Backend> cpu, int threads, String host) {
        try {
            return cpu.apply(threads);
        } catch (MissingNativeLibraryException | ExceptionInInitializerError | NoClassDefFoundError e) {
            Throwable why = e instanceof ExceptionInInitializerError && e.getCause() != null ? e.getCause() : e;
            throw new IllegalStateException("executor on " + host + " has no usable OpenBLAS: " + why.getMessage()
                    + " On Spark: install it on every worker, or pass --conf spark.executorEnv.CURVATURE_OPENBLAS=<path>", e);
        }
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "an unknown host";
        }
    }

    private static double seconds(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e9;
    }
}
