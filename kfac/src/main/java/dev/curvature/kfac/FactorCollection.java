package dev.curvature.kfac;

import dev.curvature.engine.CovariancePrecision;
import dev.curvature.transformer.checkpoint.HaltPoint;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.Workspace;
import dev.curvature.transformer.train.TokenWindows;

import java.io.IOException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * A whole collection run: a token stream cut into consecutive windows of {@code time} tokens (the last position of
 * each window has no target and is not counted), batches of {@code batch} windows through a {@link KfacCollector},
 * factors written to a file with their {@link FactorStore.Description}.
 */
public final class FactorCollection {
    private FactorCollection() {
    }

    /**
     * @param layers    glob patterns of layers
     * @param labels    gold or sampled labels
     * @param seed      sampling seed
     * @param batch     windows per batch
     * @param time      tokens per window
     * @param maxTokens stop after this many tokens (≤ 0: the whole stream)
     * @param precision float32 batches with float64 sums, or exact float64
     * @param checkpointEvery write a resumable checkpoint after about this many tokens (≤ 0: never)
     * @param tokenizer the digest of the tokenizer that made the tokens, recorded in the description (null: unknown)
     * @param onePassMoments  also accumulate EK-FAC's one-pass moments ({@link OnePassMoments}), stored in the file
     */
    public record Options(String layers, KfacCollector.Labels labels, long seed, int batch, int time, long maxTokens,
                          CovariancePrecision precision, long checkpointEvery, String tokenizer,
                          boolean onePassMoments) {
        /** Options with a tokenizer digest, without the one-pass moments. */
        public Options(String layers, KfacCollector.Labels labels, long seed, int batch, int time, long maxTokens,
                       CovariancePrecision precision, long checkpointEvery, String tokenizer) {
            this(layers, labels, seed, batch, time, maxTokens, precision, checkpointEvery, tokenizer, false);
        }

        /** Options without a tokenizer digest (unknown), with or without the one-pass moments. */
        public Options(String layers, KfacCollector.Labels labels, long seed, int batch, int time, long maxTokens,
                       CovariancePrecision precision, long checkpointEvery, boolean onePassMoments) {
            this(layers, labels, seed, batch, time, maxTokens, precision, checkpointEvery, null, onePassMoments);
        }

        /** Options without a tokenizer digest (unknown) or the one-pass moments. */
        public Options(String layers, KfacCollector.Labels labels, long seed, int batch, int time, long maxTokens,
                       CovariancePrecision precision, long checkpointEvery) {
            this(layers, labels, seed, batch, time, maxTokens, precision, checkpointEvery, null, false);
        }
    }

    /** Where a run keeps its checkpoint: the output file name + ".partial". */
    public static Path checkpointOf(Path output) {
        return output.resolveSibling(output.getFileName() + ".partial");
    }

    /** Where a run over several corpus files keeps the shard of file {@code part}: the output name + ".part-N". */
    public static Path shardOf(Path output, int part) {
        return output.resolveSibling(output.getFileName() + ".part-" + part);
    }

    /** Progress callback: windows done of total, tokens done. */
    @FunctionalInterface
    public interface Progress {
        void update(long windowsDone, long windowsTotal, long tokens);
    }

    /**
     * The result: description as written, and the mean loss of the labels over the batches this invocation ran
     * (after a resume, only those; for several parts, the parts collected now).
     */
    public record Result(FactorStore.Description description, double meanLoss) {
    }

    /**
     * A run over several corpus parts (files): each part is collected into its own shard ({@code <out>.part-<i>},
     * resumable like any run; a finished shard is reused only when its description is that of this very request —
     * model, corpus part, dtype, precision, labels, seed, window, batch, budget, layers — and refused otherwise), then the shards are added in part order and the shards
     * removed. This is exactly what merging separately collected per-part shards does, so a distributed collection
     * reproduces a single run bit for bit (float addition is not associative: the order is part of the definition).
     */
    public static Result runParts(Model model, List<int[]> parts, Options options, Path output,
                                  Progress progress) throws IOException {
        if (parts.size() == 1) {
            return run(model, parts.get(0), options, output, progress);
        }
        if (options.onePassMoments()) {
            throw new IllegalArgumentException("EK-FAC one-pass moments are collected over one corpus file; "
                    + parts.size() + " were given");
        }
        List<Path> shards = new ArrayList<>();
        double lossSum = 0;
        long lossWeight = 0;
        for (int i = 0; i < parts.size(); i++) {
            Path shard = shardOf(output, i);
            shards.add(shard);
            if (isFinishedShard(model, parts.get(i), options, shard)) {
                continue;   // finished before an interruption, by this very request
            }
            Result r = run(model, parts.get(i), options, shard, progress);
            if (!Double.isNaN(r.meanLoss())) {
                lossSum += r.meanLoss() * r.description().tokens();
                lossWeight += r.description().tokens();
            }
        }
        try (FactorStore.Loaded merged = FactorStore.merge(model.backend(), shards)) {
            FactorStore.write(output, merged.factors(), merged.description());
            for (Path shard : shards) {
                java.nio.file.Files.deleteIfExists(shard);
            }
            return new Result(merged.description(), lossWeight == 0 ? Double.NaN : lossSum / lossWeight);
        }
    }

    public static Result run(Model model, int[] tokens, Options options, Path output, Progress progress)
            throws IOException {
        if (options.time() < 2 || options.time() > model.config().contextLength()) {
            throw new IllegalArgumentException("window length " + options.time() + " must be in [2, n_positions = "
                    + model.config().contextLength() + "]");
        }
        long usable = options.maxTokens() > 0 ? Math.min(tokens.length, options.maxTokens()) : tokens.length;
        long windows = usable / options.time();
        if (windows == 0) {
            throw new IllegalArgumentException("the corpus has " + tokens.length + " tokens, fewer than one window of "
                    + options.time());
        }
        int batches = (int) ((windows + options.batch() - 1) / options.batch());
        String model0 = ModelFingerprint.of(model.parameters());
        String dtype = model.parameters().dtype().name();
        CorpusDigest corpus = new CorpusDigest(tokens);
        Path checkpoint = checkpointOf(output);
        try (KfacCollector collector = new KfacCollector(model.backend(), model, LayerSelection.parse(options.layers()),
                options.labels(), options.seed(), options.precision())) {
            if (options.onePassMoments()) {
                collector.withOnePassMoments();
            }
            int firstBatch = resume(model, collector, checkpoint, model0, options, dtype, corpus,
                    windows * options.time());
            double lossSum = 0;
            long lossCount = 0;
            long sinceCheckpoint = 0;
            Workspace act = null;
            try {
                for (int b = firstBatch; b < batches; b++) {
                    int size = (int) Math.min(options.batch(), windows - (long) b * options.batch());
                    if (act == null || act.batch() != size) {
                        if (act != null) {
                            act.close();
                        }
                        act = model.workspace(size, options.time());
                    }
                    int[] ids = new int[size * options.time()];
                    int[] targets = new int[ids.length];
                    TokenWindows.consecutive(tokens, (long) b * options.batch(), size, options.time(), ids, targets);
                    double loss = collector.collect(act, ids, targets);
                    HaltPoint.reach("collect.batch");   // crash tests: factors of this batch in memory only
                    lossSum += loss * act.countedPositions();
                    lossCount += act.countedPositions();
                    long done = (long) b * options.batch() + size;
                    sinceCheckpoint += (long) size * options.time();
                    if (options.checkpointEvery() > 0 && sinceCheckpoint >= options.checkpointEvery() && b + 1 < batches) {
                        FactorStore.write(checkpoint, collector.factors(),
                                describe(collector, model0, options, corpus, done * options.time(), dtype),
                                extraTensors(collector));
                        sinceCheckpoint = 0;
                    }
                    progress.update(done, windows, done * options.time());
                }
            } finally {
                if (act != null) {
                    act.close();
                }
            }
            FactorStore.Description description = describe(collector, model0, options, corpus, windows * options.time(),
                    dtype);
            FactorStore.write(output, collector.factors(), description, extraTensors(collector));
            java.nio.file.Files.deleteIfExists(checkpoint);
            return new Result(description, lossCount == 0 ? Double.NaN : lossSum / lossCount);
        }
    }

    /** What is stored beside the factors: the one-pass moments when collected. */
    private static java.util.Map<String, dev.curvature.engine.Tensor> extraTensors(KfacCollector collector) {
        return collector.onePassMoments() == null ? java.util.Map.of() : collector.onePassMoments().tensors();
    }

    private static FactorStore.Description describe(KfacCollector collector, String model, Options options,
                                                    CorpusDigest corpus, long tokensDone, String dtype) {
        List<FactorStore.Layer> layers = new ArrayList<>();
        for (KroneckerFactors f : collector.factors().values()) {
            layers.add(new FactorStore.Layer(f.layer(), f.activations().dim(), f.gradients().dim(), f.positions()));
        }
        return new FactorStore.Description(FactorStore.VERSION, model, options.labels().name(), options.seed(),
                List.of(digestOf(corpus, tokensDone)), tokensDone, layers, collection(options, dtype),
                List.of(options.seed()), options.tokenizer() == null ? null : List.of(options.tokenizer()));
    }

    private static String digestOf(CorpusDigest corpus, long tokensDone) {
        corpus.advanceTo(tokensDone);
        return corpus.current();
    }

    private static FactorStore.Collection collection(Options options, String dtype) {
        return new FactorStore.Collection(options.time(), options.batch(), options.precision().name(),
                options.maxTokens(), dtype);
    }

    /**
     * What differs between the run state {@code d} (a checkpoint or shard on disk) and this request, as
     * "field: there X, here Y" entries; empty when it is this request's.
     */
    private static List<String> differences(FactorStore.Description d, String model, Options options, String dtype,
                                            List<String> layers) {
        List<String> out = new ArrayList<>();
        differ(out, "model", d.model(), model);
        differ(out, "labels", d.labels(), options.labels().name());
        differ(out, "seed", d.seed(), options.seed());
        differ(out, "layers", d.layers() == null ? null : d.layers().stream().map(FactorStore.Layer::name).toList(),
                layers);
        FactorStore.Collection c = d.collection();
        FactorStore.Collection here = collection(options, dtype);
        if (c == null) {
            out.add("collection parameters: unknown there");
        } else {
            differ(out, "dtype", c.dtype() == null ? "unknown" : c.dtype(), dtype);
            differ(out, "precision", c.precision(), here.precision());
            differ(out, "window (--time)", c.time(), here.time());
            differ(out, "batch", c.batch(), here.batch());
            differ(out, "token budget (--max-tokens)", c.maxTokens(), here.maxTokens());
        }
        return out;
    }

    private static void differ(List<String> out, String field, Object there, Object here) {
        if (!java.util.Objects.equals(there, here)) {
            out.add(field + ": " + there + " there, " + here + " here");
        }
    }

    private static IOException otherRun(Path state, String what, List<String> differences) {
        return new IOException(state + " is " + what + " of a different collection run (" + String.join("; ",
                differences) + "); delete it or choose another --out");
    }

    /**
     * Whether {@code shard} is a finished corpus shard of this very request over exactly {@code tokens}: false when
     * there is no such file, true when its description is this request's (model, corpus part, dtype, precision,
     * labels, seed, window, batch, budget, layers), and an error naming the file and what differs otherwise. Whoever
     * runs shards elsewhere (a cluster) reuses shards by the same rule as {@link #runParts}.
     */
    public static boolean isFinishedShard(Model model, int[] tokens, Options options, Path shard)
            throws IOException {
        if (!java.nio.file.Files.exists(shard)) {
            return false;
        }
        FactorStore.Description d;
        try (FactorStore.Loaded saved = FactorStore.read(model.backend(), shard)) {
            d = saved.description();
        }
        String dtype = model.parameters().dtype().name();
        List<String> layers = LayerSelection.parse(options.layers()).select(model.linearLayers());
        List<String> differences = differences(d, ModelFingerprint.of(model.parameters()), options, dtype, layers);
        long usable = options.maxTokens() > 0 ? Math.min(tokens.length, options.maxTokens()) : tokens.length;
        long used = usable / options.time() * options.time();
        CorpusDigest corpus = new CorpusDigest(tokens);
        differ(differences, "corpus", d.corpus(), List.of(digestOf(corpus, used)));
        differ(differences, "tokens", d.tokens(), used);
        if (!differences.isEmpty()) {
            throw otherRun(shard, "a corpus shard", differences);
        }
        return true;
    }

    /**
     * Restores a checkpoint of this very run (same model, labels, seed, layers and corpus prefix) into the collector;
     * returns the first batch still to do (0 without a checkpoint). A checkpoint of another run is an error: it is
     * not silently overwritten.
     */
    private static int resume(Model gpt2, KfacCollector collector, Path checkpoint, String model, Options options,
                              String dtype, CorpusDigest corpus, long usableTokens) throws IOException {
        if (!java.nio.file.Files.exists(checkpoint)) {
            return 0;
        }
        try (FactorStore.Loaded saved = FactorStore.read(gpt2.backend(), checkpoint)) {
            FactorStore.Description d = saved.description();
            long done = d.tokens();
            long batchTokens = (long) options.batch() * options.time();
            List<String> differences = differences(d, model, options, dtype,
                    new ArrayList<>(collector.factors().keySet()));
            if (done % batchTokens != 0 || done > usableTokens) {
                differences.add("tokens: " + done + " there, not a whole number of batches of " + batchTokens
                        + " within the " + usableTokens + " tokens here");
            } else {
                differ(differences, "corpus", d.corpus(), List.of(digestOf(corpus, done)));
            }
            if (!differences.isEmpty()) {
                throw otherRun(checkpoint, "a checkpoint", differences);
            }
            for (KroneckerFactors f : collector.factors().values()) {
                KroneckerFactors s = saved.factors().get(f.layer());
                f.activations().restore(s.activations().upperSum(), s.positions());
                f.gradients().restore(s.gradients().upperSum(), s.positions());
            }
            if (collector.onePassMoments() != null) {
                try (OnePassMoments stored = OnePassMoments.read(gpt2.backend(), checkpoint, d)) {
                    if (stored == null) {
                        throw otherRun(checkpoint, "a checkpoint", List.of("one-pass EK-FAC moments: none there, "
                                + "asked for here"));
                    }
                    collector.onePassMoments().restore(stored.tensors());
                }
            }
            collector.resumeAfter(done / batchTokens);
            return (int) (done / batchTokens);
        }
    }

    /**
     * The corpus fingerprint, "sha256:…" of the token ids used so far (SHA-256 of tokens[0, used) as big-endian
     * int32), kept up to date as a run goes: each token is hashed once, so checkpointing every k tokens of an
     * N-token corpus costs O(N), not O(N²/k).
     */
    static final class CorpusDigest {
        private final int[] tokens;
        private final MessageDigest digest;
        private final java.nio.ByteBuffer chunk = java.nio.ByteBuffer.allocate(4 * 4096);   // big-endian
        private long fed;

        CorpusDigest(int[] tokens) {
            this.tokens = tokens;
            try {
                this.digest = MessageDigest.getInstance("SHA-256");
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException("SHA-256 is missing from this JDK", e);
            }
        }

        /** Hashes tokens [fed, used) in order. */
        void advanceTo(long used) {
            while (fed < used) {
                chunk.clear();
                int n = (int) Math.min(used - fed, chunk.capacity() / 4);
                chunk.asIntBuffer().put(tokens, (int) fed, n);
                digest.update(chunk.array(), 0, 4 * n);
                fed += n;
            }
        }

        /** "sha256:…" of the tokens hashed so far (the running digest goes on). */
        String current() {
            try {
                return "sha256:" + HexFormat.of().formatHex(((MessageDigest) digest.clone()).digest());
            } catch (CloneNotSupportedException e) {
                throw new IllegalStateException("SHA-256 digest cannot be cloned", e);
            }
        }
    }
}
