package dev.curvature.kfac;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.curvature.engine.Backend;
import dev.curvature.engine.NonFiniteTensorException;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.CheckpointFormatException;
import dev.curvature.transformer.checkpoint.SafetensorsFile;
import dev.curvature.transformer.checkpoint.SafetensorsWriter;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * EK-FAC corrected eigenvalues on disk, in the conventions of {@link FactorStore} and {@link EigenbasisStore}: one
 * safetensors file with, per layer, {@code <layer>.lambda_sum} (d_out, d_in) — the float64 SUM
 * Σ_n (U_Gᵀ ∇_W ℓ_n U_A)² — and, under the metadata key {@code curvature.ekfac}, a JSON {@link Description}: the
 * sample count per layer, the granularity, labels, corpus, and the eigenbasis the sums were rotated into (the
 * description of its factors and a digest of each layer's U_G and U_A). Sums and counts, so shards add exactly.
 */
public final class EkfacStore {
    public static final String METADATA_KEY = "curvature.ekfac";
    public static final int VERSION = 1;
    private static final ObjectMapper JSON = new ObjectMapper();

    private EkfacStore() {
    }

    /**
     * What a corrected-eigenvalue file holds and where it came from.
     *
     * @param version     format version
     * @param model       fingerprint of the model's weights ({@link ModelFingerprint})
     * @param factors     the description of the K-FAC factors whose eigenbasis the sums are in
     * @param granularity SEQUENCE or TOKEN ({@link CorrectedEigenvalues.Granularity})
     * @param labels      GOLD or SAMPLED
     * @param seeds       label-sampling seed of each shard, in merge order
     * @param corpus      corpus fingerprint of each shard, in merge order
     * @param tokens      tokens read
     * @param time        tokens per window
     * @param batch       windows per batch
     * @param layers      per layer: shape, samples and eigenbasis digest
     */
    public record Description(int version, String model, FactorStore.Description factors, String granularity,
                              String labels, List<Long> seeds, List<String> corpus, long tokens, int time, int batch,
                              List<Layer> layers) {
    }

    /**
     * One layer's entry.
     *
     * @param basis "sha256:…" of the layer's U_G then U_A (float64, little-endian, row-major): the basis the sums
     *              are in; an eigenbasis recomputed elsewhere (another LAPACK, a rotation inside a degenerate
     *              eigenspace) has another digest, and the sums do not apply to it
     */
    public record Layer(String name, int dOut, int dIn, long samples, String basis) {
    }

    /** Sums read back, with their description; owned by the caller. */
    public record Loaded(Description description, CorrectedEigenvalues eigenvalues) implements AutoCloseable {
        @Override
        public void close() {
            eigenvalues.close();
        }
    }

    /** The digest of a layer's eigenvectors: SHA-256 of U_G then U_A as little-endian float64. */
    public static String basisDigest(FactorEigenbasis basis) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            for (Tensor t : new Tensor[]{basis.gradientEigenvectors(), basis.activationEigenvectors()}) {
                double[] values = t.toDoubleArray();
                ByteBuffer bytes = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
                bytes.asDoubleBuffer().put(values);
                digest.update(bytes.array());
            }
            return "sha256:" + HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    /** Writes the sums and their description to {@code file}, atomically; NaN/Inf sums are refused naming the layer. */
    public static void write(Path file, CorrectedEigenvalues eigenvalues, Description description) throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (CorrectedEigenvalues.Layer layer : eigenvalues.layers().values()) {
            for (double v : layer.sum().toDoubleArray()) {
                if (!Double.isFinite(v)) {
                    throw new NonFiniteTensorException(layer.name(), "corrected eigenvalues of layer " + layer.name()
                            + " hold a non-finite value (" + v + "): the gradients overflowed; refusing to write "
                            + file);
                }
            }
            tensors.put(layer.name() + ".lambda_sum", layer.sum());
        }
        SafetensorsWriter.write(file, tensors, Map.of(METADATA_KEY, JSON.writeValueAsString(description)));
    }

    /** Reads a file; missing or malformed entries and NaN/Inf are errors naming the file and layer. */
    public static Loaded read(Backend backend, Path file) throws IOException {
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            String json = st.metadata().get(METADATA_KEY);
            if (json == null) {
                throw new CheckpointFormatException(file, null, "is not a curvature EK-FAC eigenvalue file (no '"
                        + METADATA_KEY + "' metadata)");
            }
            Description d;
            try {
                d = JSON.readValue(json, Description.class);
            } catch (JacksonException e) {
                throw new CheckpointFormatException(file, null, "has an unreadable EK-FAC description: "
                        + e.getOriginalMessage());
            }
            if (d.version() != VERSION) {
                throw new CheckpointFormatException(file, null, "has EK-FAC format version " + d.version()
                        + ", this curvature reads version " + VERSION);
            }
            CorrectedEigenvalues.Granularity granularity;
            try {
                granularity = CorrectedEigenvalues.Granularity.valueOf(d.granularity());
            } catch (IllegalArgumentException | NullPointerException e) {
                throw new CheckpointFormatException(file, null, "has granularity '" + d.granularity()
                        + "', not SEQUENCE or TOKEN");
            }
            Map<String, Tensor> sums = new LinkedHashMap<>();
            Map<String, Long> samples = new LinkedHashMap<>();
            for (Layer layer : d.layers()) {
                String name = layer.name() + ".lambda_sum";
                if (!st.contains(name)) {
                    throw new CheckpointFormatException(file, name, "is listed in the description but missing");
                }
                Tensor t = st.tensor(name);
                if (t.rank() != 2 || t.dim(0) != layer.dOut() || t.dim(1) != layer.dIn()) {
                    throw new CheckpointFormatException(file, name, "has shape " + java.util.Arrays.toString(t.shape())
                            + ", the description says (" + layer.dOut() + ", " + layer.dIn() + ")");
                }
                try {
                    backend.requireFinite(t.named(name), "loading EK-FAC eigenvalues");
                } catch (NonFiniteTensorException e) {
                    throw new CheckpointFormatException(file, name, e.getMessage());
                }
                sums.put(layer.name(), t);
                samples.put(layer.name(), layer.samples());
            }
            return new Loaded(d, CorrectedEigenvalues.of(backend, granularity, sums, samples));
        }
    }

    /**
     * Adds shards in the given order. Shards must share model, eigenbasis (factors and per-layer digests),
     * granularity, labels and layers; anything else is an error naming the shard and what differs.
     */
    public static Loaded merge(Backend backend, List<Path> shards) throws IOException {
        if (shards.isEmpty()) {
            throw new IllegalArgumentException("nothing to merge");
        }
        Loaded total = read(backend, shards.get(0));
        try {
            Description first = total.description();
            List<Long> seeds = new ArrayList<>(first.seeds());
            List<String> corpus = new ArrayList<>(first.corpus());
            long tokens = first.tokens();
            for (Path shard : shards.subList(1, shards.size())) {
                try (Loaded next = read(backend, shard)) {
                    Description d = next.description();
                    List<String> differences = new ArrayList<>();
                    if (!first.model().equals(d.model())) {
                        differences.add("model " + d.model() + " vs " + first.model());
                    }
                    if (!first.granularity().equals(d.granularity())) {
                        differences.add("granularity " + d.granularity() + " vs " + first.granularity());
                    }
                    if (!first.labels().equals(d.labels())) {
                        differences.add("labels " + d.labels() + " vs " + first.labels());
                    }
                    List<String> a = first.layers().stream().map(l -> l.name() + "@" + l.basis()).toList();
                    List<String> b = d.layers().stream().map(l -> l.name() + "@" + l.basis()).toList();
                    if (!a.equals(b)) {
                        differences.add("layers/eigenbases " + b + " vs " + a);
                    }
                    if (!differences.isEmpty()) {
                        throw new CheckpointFormatException(shard, null, "cannot be added to " + shards.get(0) + ": "
                                + String.join("; ", differences));
                    }
                    total.eigenvalues().add(backend, next.eigenvalues());
                    seeds.addAll(d.seeds());
                    corpus.addAll(d.corpus());
                    tokens += d.tokens();
                }
            }
            List<Layer> layers = new ArrayList<>();
            for (Layer l : first.layers()) {
                layers.add(new Layer(l.name(), l.dOut(), l.dIn(), total.eigenvalues().layer(l.name()).samples(),
                        l.basis()));
            }
            return new Loaded(new Description(VERSION, first.model(), first.factors(), first.granularity(),
                    first.labels(), seeds, corpus, tokens, first.time(), first.batch(), layers), total.eigenvalues());
        } catch (IOException | RuntimeException e) {
            total.close();
            throw e;
        }
    }

    /**
     * Checks that {@code d}'s sums were rotated into exactly these eigenbases (same model, same digests); the error
     * names the file and the first layer at fault.
     */
    public static void requireBasis(Path file, Description d, String modelFingerprint,
                                    Map<String, FactorEigenbasis> bases) {
        if (!d.model().equals(modelFingerprint)) {
            throw new IllegalArgumentException(file + " was computed on another model (" + d.model() + ") than the "
                    + "one given (" + modelFingerprint + ")");
        }
        for (Layer layer : d.layers()) {
            FactorEigenbasis basis = bases.get(layer.name());
            if (basis != null && !basisDigest(basis).equals(layer.basis())) {
                throw new IllegalArgumentException(file + ": layer " + layer.name() + " was rotated into another "
                        + "eigenbasis (" + layer.basis() + ") than the one given (" + basisDigest(basis) + "); pass "
                        + "the eigenbasis file the EK-FAC pass used (--eigenbases)");
            }
        }
    }
}
