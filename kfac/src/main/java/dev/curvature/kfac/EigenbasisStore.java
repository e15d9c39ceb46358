package dev.curvature.kfac;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.curvature.engine.Backend;
import dev.curvature.engine.EigenQuality;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.CheckpointFormatException;
import dev.curvature.transformer.checkpoint.SafetensorsFile;
import dev.curvature.transformer.checkpoint.SafetensorsWriter;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Eigenbases on disk, so an edit sweep does not redo the eigendecompositions: per layer {@code <layer>.lambda},
 * {@code <layer>.U_G}, {@code <layer>.mu}, {@code <layer>.U_A} (float64) and, under the metadata key
 * {@code curvature.eigenbases}, the description of the factors they came from and each decomposition's quality.
 */
public final class EigenbasisStore {
    public static final String METADATA_KEY = "curvature.eigenbases";
    private static final ObjectMapper JSON = new ObjectMapper();

    private EigenbasisStore() {
    }

    /** The JSON header: where the factors came from and the quality of every decomposition. */
    public record Header(FactorStore.Description factors, List<LayerQuality> layers) {
    }

    /** Quality of one layer's two decompositions. */
    public record LayerQuality(String layer, EigenQuality gradients, EigenQuality activations) {
    }

    /** Eigenbases read back, by layer, with the description of their factors. */
    public record Loaded(FactorStore.Description factors, Map<String, FactorEigenbasis> bases) implements AutoCloseable {
        @Override
        public void close() {
            bases.values().forEach(FactorEigenbasis::close);
        }
    }

    public static void write(Path file, List<FactorEigenbasis> bases, FactorStore.Description factors)
            throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        List<LayerQuality> qualities = new ArrayList<>();
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            for (FactorEigenbasis b : bases) {
                tensors.put(b.layer() + ".lambda", Tensor.of(arena, dev.curvature.engine.DType.F64,
                        b.gradientEigenvalues(), b.gradientEigenvalues().length));
                tensors.put(b.layer() + ".U_G", b.gradientEigenvectors());
                tensors.put(b.layer() + ".mu", Tensor.of(arena, dev.curvature.engine.DType.F64,
                        b.activationEigenvalues(), b.activationEigenvalues().length));
                tensors.put(b.layer() + ".U_A", b.activationEigenvectors());
                qualities.add(new LayerQuality(b.layer(), b.gradientQuality(), b.activationQuality()));
            }
            SafetensorsWriter.write(file, tensors, Map.of(METADATA_KEY,
                    JSON.writeValueAsString(new Header(factors, qualities))));
        }
    }

    /**
     * The header of an open eigenbasis file, read strictly and checked: the factors' description as
     * {@link FactorStore#readDescription} checks it, at least one layer, each named once with both qualities.
     */
    public static Header readHeader(Path file, SafetensorsFile st) throws CheckpointFormatException {
        String json = st.metadata().get(METADATA_KEY);
        if (json == null) {
            throw new CheckpointFormatException(file, null, "is not a curvature eigenbasis file (no '" + METADATA_KEY
                    + "' metadata)");
        }
        Header header;
        try {
            header = FactorStore.STRICT_JSON.readValue(json, Header.class);
        } catch (JacksonException e) {
            throw new CheckpointFormatException(file, null, "has an unreadable header" + FactorStore.fieldOf(e) + ": "
                    + e.getOriginalMessage());
        }
        if (header == null) {
            throw new CheckpointFormatException(file, null, "eigenbasis header is null");
        }
        FactorStore.requireValid(file, "eigenbasis header: factors", header.factors());
        if (header.layers() == null || header.layers().isEmpty()) {
            throw new CheckpointFormatException(file, null, "eigenbasis header: layers names no layer");
        }
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (int i = 0; i < header.layers().size(); i++) {
            LayerQuality q = header.layers().get(i);
            String at = "eigenbasis header: layers[" + i + "]";
            if (q == null || q.layer() == null || q.layer().isBlank()) {
                throw new CheckpointFormatException(file, null, at + ".layer is missing or empty");
            }
            if (!seen.add(q.layer())) {
                throw new CheckpointFormatException(file, null, at + ".layer '" + q.layer() + "' is listed twice");
            }
            if (q.gradients() == null || q.activations() == null) {
                throw new CheckpointFormatException(file, null, at + " (" + q.layer() + ") lacks its "
                        + (q.gradients() == null ? "gradients" : "activations") + " quality");
            }
        }
        return header;
    }

    public static Loaded read(Backend backend, Path file) throws IOException {
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            Header header = readHeader(file, st);
            Map<String, FactorEigenbasis> bases = new LinkedHashMap<>();
            try {
                for (LayerQuality q : header.layers()) {
                    String l = q.layer();
                    for (String part : new String[]{".lambda", ".U_G", ".mu", ".U_A"}) {
                        if (!st.contains(l + part)) {
                            throw new CheckpointFormatException(file, l + part, "is missing");
                        }
                    }
                    Tensor lambda = st.tensor(l + ".lambda");
                    Tensor uG = st.tensor(l + ".U_G");
                    Tensor mu = st.tensor(l + ".mu");
                    Tensor uA = st.tensor(l + ".U_A");
                    for (Tensor t : new Tensor[]{lambda, uG, mu, uA}) {
                        try {
                            backend.requireFinite(t, "an edit from this eigenbasis");
                        } catch (dev.curvature.engine.NonFiniteTensorException e) {
                            throw new CheckpointFormatException(file, t.name(), e.getMessage());
                        }
                    }
                    if (lambda.rank() != 1 || uG.rank() != 2 || uG.dim(0) != lambda.dim(0) || uG.dim(1) != lambda.dim(0)
                            || mu.rank() != 1 || uA.rank() != 2 || uA.dim(0) != mu.dim(0) || uA.dim(1) != mu.dim(0)) {
                        throw new CheckpointFormatException(file, l, "has inconsistent eigenvalue/eigenvector shapes");
                    }
                    bases.put(l, FactorEigenbasis.of(backend, l, lambda, uG, q.gradients(), mu, uA, q.activations()));
                }
            } catch (IOException | RuntimeException e) {
                bases.values().forEach(FactorEigenbasis::close);
                throw e;
            }
            return new Loaded(header.factors(), bases);
        }
    }
}
