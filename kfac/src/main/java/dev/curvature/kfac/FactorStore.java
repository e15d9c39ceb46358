package dev.curvature.kfac;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.curvature.engine.Backend;
import dev.curvature.engine.CovarianceAccumulator;
import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.DType;
import dev.curvature.engine.NonFiniteTensorException;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.CheckpointFormatException;
import dev.curvature.transformer.checkpoint.SafetensorsFile;
import dev.curvature.transformer.checkpoint.SafetensorsWriter;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * K-FAC factors on disk: one safetensors file with, per layer, {@code <layer>.A} (d_in, d_in) and {@code <layer>.G}
 * (d_out, d_out) — the float64 SUMS, both triangles filled — and a JSON description in the header metadata under
 * {@code curvature.factors} ({@link Description}). Sums and counts, never means, so shards add exactly. Never pickle.
 */
public final class FactorStore {
    /** Metadata key of the JSON description. */
    public static final String METADATA_KEY = "curvature.factors";
    /** Format version written into every file. */
    public static final int VERSION = 1;

    private static final ObjectMapper JSON = new ObjectMapper();
    /**
     * How descriptions are read back: a repeated key, trailing content, a null where a number belongs or a fraction
     * where an integer belongs is an error (the writer never produces them), not a silent guess.
     */
    static final ObjectMapper STRICT_JSON = new ObjectMapper()
            .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(com.fasterxml.jackson.databind.DeserializationFeature.ACCEPT_FLOAT_AS_INT);

    private FactorStore() {
    }

    /**
     * What a factor file holds and where it came from.
     *
     * @param version      format version
     * @param model        model identity: a fingerprint of its weights ({@link ModelFingerprint})
     * @param labels       "GOLD" or "SAMPLED"
     * @param seed         label-sampling seed
     * @param corpus       corpus fingerprint(s) (several after a merge, in merge order)
     * @param tokens       tokens read from the corpus
     * @param layers       per layer: name, d_in, d_out and counted positions
     * @param collection   how the windows were cut and summed (null when unknown, e.g. shards of different runs)
     * @param seeds        every shard's label-sampling seed, one per corpus entry, in merge order (null when unknown:
     *                     files written before it was recorded; {@link #seedsOrUnknown()} reads those)
     * @param tokenizers   the tokenizer that turned each corpus entry into tokens, one per corpus entry in merge order:
     *                     "sha256:…" of its tokenizer.json (and tokenizer_config.json, when read), or "bytes" (null
     *                     when unknown: files written before it was recorded; entries may be null after a merge)
     */
    public record Description(int version, String model, String labels, long seed, List<String> corpus, long tokens,
                              List<Layer> layers, Collection collection, List<Long> seeds, List<String> tokenizers) {
        /** A description without the tokenizers (unknown). */
        public Description(int version, String model, String labels, long seed, List<String> corpus, long tokens,
                           List<Layer> layers, Collection collection, List<Long> seeds) {
            this(version, model, labels, seed, corpus, tokens, layers, collection, seeds, null);
        }

        /** A description without collection parameters. */
        public Description(int version, String model, String labels, long seed, List<String> corpus, long tokens,
                           List<Layer> layers) {
            this(version, model, labels, seed, corpus, tokens, layers, null, null, null);
        }

        /** A description of one run's shard: its seed is the only one. */
        public Description(int version, String model, String labels, long seed, List<String> corpus, long tokens,
                           List<Layer> layers, Collection collection) {
            this(version, model, labels, seed, corpus, tokens, layers, collection, null, null);
        }

        /**
         * One seed per corpus entry: {@link #seeds} when recorded; for an older file, {@code seed} when it holds one
         * corpus, else {@code seed} first (the old merge kept the first shard's) and null (unknown) for the others.
         */
        public List<Long> seedsOrUnknown() {
            if (seeds != null) {
                return seeds;
            }
            List<Long> out = new ArrayList<>();
            int n = corpus == null ? 1 : Math.max(1, corpus.size());
            for (int i = 0; i < n; i++) {
                out.add(i == 0 ? seed : null);
            }
            return out;
        }

        /** One tokenizer digest per corpus entry: {@link #tokenizers} when recorded, else unknown (null) entries. */
        public List<String> tokenizersOrUnknown() {
            if (tokenizers != null) {
                return tokenizers;
            }
            return java.util.Collections.nCopies(corpus == null ? 1 : Math.max(1, corpus.size()), null);
        }
    }

    /**
     * The parameters of a collection run that decide what its sums mean and how a resumed run must continue.
     *
     * @param time      tokens per window (the context length the factors saw)
     * @param batch     windows per batch (sampled labels draw per batch)
     * @param precision covariance accumulation mode
     * @param maxTokens the token budget of the run (0: the whole corpus)
     * @param dtype     the compute dtype of the model, F32 or F64 (null: unknown, files written before it was recorded)
     */
    public record Collection(int time, int batch, String precision, long maxTokens, String dtype) {
        /** Collection parameters without the compute dtype (unknown). */
        public Collection(int time, int batch, String precision, long maxTokens) {
            this(time, batch, precision, maxTokens, null);
        }
    }

    /** One layer's entry in a {@link Description}. */
    public record Layer(String name, int dIn, int dOut, long positions) {
    }

    /** Factors read back from a file, owned by the caller (close each accumulator, or the whole set). */
    public record Loaded(Description description, Map<String, KroneckerFactors> factors) implements AutoCloseable {
        @Override
        public void close() {
            for (KroneckerFactors f : factors.values()) {
                f.activations().close();
                f.gradients().close();
            }
        }
    }

    /**
     * Writes {@code factors} (sums) and their description to {@code file}, atomically. A factor holding NaN or ±Inf
     * (weights so large that compute overflowed, say) is refused before anything is written, naming the layer and the
     * first bad element.
     */
    public static void write(Path file, Map<String, KroneckerFactors> factors, Description description)
            throws IOException {
        write(file, factors, description, Map.of());
    }

    /**
     * {@link #write(Path, Map, Description)} with {@code extra} tensors stored beside the factors under their own
     * names (EK-FAC's one-pass moments, {@link OnePassMoments}); readers of factors ignore them.
     */
    public static void write(Path file, Map<String, KroneckerFactors> factors, Description description,
                             Map<String, Tensor> extra) throws IOException {
        try (Arena arena = Arena.ofShared()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (KroneckerFactors f : factors.values()) {
                tensors.put(f.layer() + ".A", requireFinite(symmetricSum(arena, f.activations()), f.layer() + ".A", file));
                tensors.put(f.layer() + ".G", requireFinite(symmetricSum(arena, f.gradients()), f.layer() + ".G", file));
            }
            extra.forEach((name, t) -> tensors.put(name, requireFinite(t, name, file)));
            SafetensorsWriter.write(file, tensors, Map.of(METADATA_KEY, JSON.writeValueAsString(description)));
        }
    }

    /** {@code sum} (a host float64 matrix) when finite; else an error naming the factor and its first bad element. */
    private static Tensor requireFinite(Tensor sum, String name, Path file) {
        java.lang.foreign.MemorySegment s = sum.segment();
        long n = sum.size();
        long bad = 0;
        long first = -1;
        for (long i = 0; i < n; i++) {
            double v = s.getAtIndex(java.lang.foreign.ValueLayout.JAVA_DOUBLE, i);
            if (!Double.isFinite(v)) {
                bad++;
                if (first < 0) {
                    first = i;
                }
            }
        }
        if (bad > 0) {
            long cols = sum.dim(1);
            throw new NonFiniteTensorException(name, "factor '" + name + "' of layer "
                    + name.substring(0, name.lastIndexOf('.')) + " holds " + bad + " non-finite values (first at ["
                    + first / cols + ", " + first % cols + "] = " + s.getAtIndex(java.lang.foreign.ValueLayout.JAVA_DOUBLE,
                    first) + "): the model's activations or gradients overflowed (weights too large?); refusing to "
                    + "write " + file);
        }
        return sum;
    }

    private static Tensor symmetricSum(Arena arena, CovarianceAccumulator acc) {
        Tensor out = Tensor.allocate(arena, DType.F64, acc.dim(), acc.dim());
        acc.readSymmetric(out, 1.0);
        return out;
    }

    /** Reads a factor file; missing or malformed entries and NaN/Inf sums are errors naming the file and layer. */
    public static Loaded read(Backend backend, Path file) throws IOException {
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            Description description = readDescription(file, st);
            Map<String, KroneckerFactors> factors = new LinkedHashMap<>();
            try {
                for (Layer layer : description.layers()) {
                    CovarianceAccumulator a = load(backend, st, file, layer.name() + ".A", layer.dIn(), layer.positions());
                    CovarianceAccumulator g;
                    try {
                        g = load(backend, st, file, layer.name() + ".G", layer.dOut(), layer.positions());
                    } catch (IOException | RuntimeException e) {
                        a.close();
                        throw e;
                    }
                    factors.put(layer.name(), new KroneckerFactors(layer.name(), a, g));
                }
            } catch (IOException | RuntimeException e) {
                new Loaded(description, factors).close();
                throw e;
            }
            return new Loaded(description, factors);
        }
    }

    /**
     * The description of an open factor file, read strictly and checked field by field (every error names the file
     * and the field, e.g. {@code layers[1].positions}), without reading any tensor.
     */
    public static Description readDescription(Path file, SafetensorsFile st) throws CheckpointFormatException {
        String json = st.metadata().get(METADATA_KEY);
        if (json == null) {
            throw new CheckpointFormatException(file, null, "is not a curvature factor file (no '" + METADATA_KEY
                    + "' metadata)");
        }
        Description d;
        try {
            d = STRICT_JSON.readValue(json, Description.class);
        } catch (JacksonException e) {
            throw new CheckpointFormatException(file, null, "has an unreadable factor description" + fieldOf(e) + ": "
                    + e.getOriginalMessage());
        }
        requireValid(file, "factor description", d);
        for (Layer l : d.layers()) {   // the tensors' headers: a memory plan from these dimensions is one of the file
            requireShape(file, st, l.name() + ".A", l.dIn());
            requireShape(file, st, l.name() + ".G", l.dOut());
        }
        return d;
    }

    private static void requireShape(Path file, SafetensorsFile st, String name, int dim)
            throws CheckpointFormatException {
        if (!st.contains(name)) {
            throw new CheckpointFormatException(file, name, "is listed in the description but missing");
        }
        long[] shape = st.info(name).shape();
        if (shape.length != 2 || shape[0] != dim || shape[1] != dim) {
            throw new CheckpointFormatException(file, name, "has shape " + java.util.Arrays.toString(shape)
                    + ", the description says (" + dim + ", " + dim + ")");
        }
    }

    /** " (field a.b[2].c)" for a mapping error, "" for a syntax error. */
    static String fieldOf(JacksonException e) {
        if (!(e instanceof com.fasterxml.jackson.databind.JsonMappingException m) || m.getPath().isEmpty()) {
            return "";
        }
        StringBuilder path = new StringBuilder();
        for (com.fasterxml.jackson.databind.JsonMappingException.Reference r : m.getPath()) {
            if (r.getFieldName() != null) {
                path.append(path.isEmpty() ? "" : ".").append(r.getFieldName());
            } else if (r.getIndex() >= 0) {
                path.append('[').append(r.getIndex()).append(']');
            }
        }
        return " (field " + path + ")";
    }

    /**
     * Refuses a description that no collection writes: a missing model, labels or corpus list, negative tokens, no
     * layers, a layer without a name, with a dimension below 1 or summed over fewer than one position, a layer listed
     * twice, seeds that do not match the corpus list one to one, collection parameters out of range.
     */
    static void requireValid(Path file, String what, Description d) throws CheckpointFormatException {
        if (d == null) {
            throw new CheckpointFormatException(file, null, what + " is null");
        }
        if (d.version() != VERSION) {
            throw new CheckpointFormatException(file, null, "has factor format version " + d.version()
                    + ", this curvature reads version " + VERSION);
        }
        check(file, what, d.model() != null && !d.model().isBlank(), "model", "is missing or empty");
        check(file, what, d.labels() != null && java.util.Arrays.stream(KfacCollector.Labels.values())
                .anyMatch(l -> l.name().equals(d.labels())), "labels", "is " + d.labels() + ", not GOLD or SAMPLED");
        check(file, what, d.corpus() != null && !d.corpus().contains(null), "corpus",
                "must be a list of corpus digests, found " + d.corpus());
        check(file, what, d.tokens() >= 0, "tokens", "is " + d.tokens() + ", must be >= 0");
        check(file, what, d.layers() != null && !d.layers().isEmpty(), "layers", "names no layer");
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (int i = 0; i < d.layers().size(); i++) {
            Layer l = d.layers().get(i);
            String at = "layers[" + i + "]";
            check(file, what, l != null, at, "is null");
            check(file, what, l.name() != null && !l.name().isBlank(), at + ".name", "is missing or empty");
            check(file, what, seen.add(l.name()), at + ".name", "'" + l.name() + "' is listed twice");
            check(file, what, l.dIn() >= 1, at + ".dIn", "is " + l.dIn() + " for " + l.name() + ", must be >= 1");
            check(file, what, l.dOut() >= 1, at + ".dOut", "is " + l.dOut() + " for " + l.name() + ", must be >= 1");
            check(file, what, l.positions() >= 1, at + ".positions", "is " + l.positions() + " for " + l.name()
                    + ", must be >= 1 (factors are sums over the positions counted)");
        }
        check(file, what, d.seeds() == null || d.corpus().size() == d.seeds().size(), "seeds",
                "has " + (d.seeds() == null ? 0 : d.seeds().size()) + " entries for " + d.corpus().size()
                        + " corpus entries (one seed per shard)");
        check(file, what, d.tokenizers() == null || d.corpus().size() == d.tokenizers().size(), "tokenizers",
                "has " + (d.tokenizers() == null ? 0 : d.tokenizers().size()) + " entries for " + d.corpus().size()
                        + " corpus entries (one tokenizer per shard)");
        Collection c = d.collection();
        if (c != null) {
            check(file, what, c.time() >= 2, "collection.time", "is " + c.time() + ", must be >= 2");
            check(file, what, c.batch() >= 1, "collection.batch", "is " + c.batch() + ", must be >= 1");
            check(file, what, c.maxTokens() >= 0, "collection.maxTokens", "is " + c.maxTokens() + ", must be >= 0");
            check(file, what, c.precision() != null && java.util.Arrays.stream(CovariancePrecision.values())
                    .anyMatch(p -> p.name().equals(c.precision())), "collection.precision", "is " + c.precision()
                    + ", not one of " + java.util.Arrays.toString(CovariancePrecision.values()));
        }
    }

    private static void check(Path file, String what, boolean ok, String field, String problem)
            throws CheckpointFormatException {
        if (!ok) {
            throw new CheckpointFormatException(file, null, what + ": " + field + " " + problem);
        }
    }

    private static CovarianceAccumulator load(Backend backend, SafetensorsFile st, Path file, String name, int dim,
                                              long positions) throws IOException {
        Tensor stored = st.tensor(name);   // shape checked with the description (readDescription)
        try {
            backend.requireFinite(stored.named(name), "loading K-FAC factors");
        } catch (NonFiniteTensorException e) {
            throw new CheckpointFormatException(file, name, e.getMessage());
        }
        CovarianceAccumulator acc = new CovarianceAccumulator(backend, dim, CovariancePrecision.F64_EXACT, name);
        acc.restore(stored, positions);
        return acc;
    }

    /**
     * Adds shards in the given order (a fixed order gives a reproducible sum). Shards must come from the same model,
     * label mode and layer set; anything else is an error naming the shard and what differs.
     */
    public static Loaded merge(Backend backend, List<Path> shards) throws IOException {
        if (shards.isEmpty()) {
            throw new IllegalArgumentException("nothing to merge");
        }
        Loaded total = read(backend, shards.get(0));
        try {
            List<String> corpus = new ArrayList<>(total.description().corpus());
            List<Long> seeds = new ArrayList<>(total.description().seedsOrUnknown());
            List<String> tokenizers = new ArrayList<>(total.description().tokenizersOrUnknown());
            long tokens = total.description().tokens();
            Collection collection = total.description().collection();
            for (Path shard : shards.subList(1, shards.size())) {
                try (Loaded next = read(backend, shard)) {
                    requireCompatible(shards.get(0), total.description(), shard, next.description());
                    for (KroneckerFactors f : total.factors().values()) {
                        KroneckerFactors other = next.factors().get(f.layer());
                        f.activations().add(other.activations());
                        f.gradients().add(other.gradients());
                    }
                    corpus.addAll(next.description().corpus());
                    seeds.addAll(next.description().seedsOrUnknown());
                    tokenizers.addAll(next.description().tokenizersOrUnknown());
                    tokens += next.description().tokens();
                    if (collection != null && !collection.equals(next.description().collection())) {
                        collection = null;   // shards cut differently: the merged sum has no single recipe
                    }
                }
            }
            List<Layer> layers = new ArrayList<>();
            for (Layer l : total.description().layers()) {
                layers.add(new Layer(l.name(), l.dIn(), l.dOut(), total.factors().get(l.name()).positions()));
            }
            Description d = total.description();
            return new Loaded(new Description(VERSION, d.model(), d.labels(), d.seed(), corpus, tokens, layers,
                    collection, seeds, tokenizers.stream().allMatch(java.util.Objects::isNull) ? null : tokenizers),
                    total.factors());
        } catch (IOException | RuntimeException e) {
            total.close();
            throw e;
        }
    }

    private static void requireCompatible(Path firstFile, Description first, Path file, Description other)
            throws CheckpointFormatException {
        if (!first.model().equals(other.model())) {
            throw new CheckpointFormatException(file, null, "was collected on another model (" + other.model()
                    + ") than " + firstFile + " (" + first.model() + ")");
        }
        if (!first.labels().equals(other.labels())) {
            throw new CheckpointFormatException(file, null, "uses " + other.labels() + " labels, " + firstFile
                    + " uses " + first.labels());
        }
        List<String> a = first.layers().stream().map(l -> l.name() + "(" + l.dIn() + "→" + l.dOut() + ")").toList();
        List<String> b = other.layers().stream().map(l -> l.name() + "(" + l.dIn() + "→" + l.dOut() + ")").toList();
        if (!a.equals(b)) {
            throw new CheckpointFormatException(file, null, "holds layers " + b + ", " + firstFile + " holds " + a);
        }
    }
}
