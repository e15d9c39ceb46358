package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.kfac.EigenbasisStore;
import dev.curvature.kfac.FactorStore;
import dev.curvature.transformer.checkpoint.CheckpointFormatException;
import dev.curvature.transformer.checkpoint.SafetensorsFile;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a command's eigenbases come from, as an exclusive picocli group: a factor file (decomposed by the command)
 * or a file of eigenbases written by {@code spectrum --eigenbases}. Exactly one of the two is given.
 */
final class EigenbasisSource {
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON =
            new com.fasterxml.jackson.databind.ObjectMapper();

    @Option(names = "--factors", required = true, paramLabel = "FILE",
            description = "Factor file from collect/merge (eigendecomposed here, one layer at a time).")
    Path factors;

    @Option(names = "--eigenbases", required = true, paramLabel = "FILE",
            description = "Eigenbases stored by spectrum --eigenbases (no decomposition repeated).")
    Path eigenbases;

    /** The file given. */
    Path file() {
        return factors != null ? factors : eigenbases;
    }

    /** The factor file, read; null when eigenbases were given instead. */
    FactorStore.Loaded readFactors(Backend backend) throws IOException {
        return factors != null ? FactorStore.read(backend, factors) : null;
    }

    /** The eigenbasis file, read; null when factors were given instead. */
    EigenbasisStore.Loaded readEigenbases(Backend backend) throws IOException {
        return eigenbases != null ? EigenbasisStore.read(backend, eigenbases) : null;
    }

    /** Whether the source is a factor file (else stored eigenbases). */
    boolean isFactors() {
        return factors != null;
    }

    /** The layers (name, d_in, d_out) of the file given, from its header alone (no tensor is read). */
    List<FactorStore.Layer> headerLayers() throws IOException {
        return factors != null ? factorLayers(factors) : eigenbasisLayers(eigenbases);
    }

    /** The layers a factor file describes in its header, without reading its tensors. */
    static List<FactorStore.Layer> factorLayers(Path file) throws IOException {
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            String json = st.metadata().get(FactorStore.METADATA_KEY);
            if (json == null) {
                throw new CheckpointFormatException(file, null, "is not a curvature factor file (no '"
                        + FactorStore.METADATA_KEY + "' metadata)");
            }
            return JSON.readValue(json, FactorStore.Description.class).layers();
        }
    }

    /** The layers of an eigenbasis file, with d_out and d_in from the shapes of U_G and U_A in its header. */
    static List<FactorStore.Layer> eigenbasisLayers(Path file) throws IOException {
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            String json = st.metadata().get(EigenbasisStore.METADATA_KEY);
            if (json == null) {
                throw new CheckpointFormatException(file, null, "is not a curvature eigenbasis file (no '"
                        + EigenbasisStore.METADATA_KEY + "' metadata)");
            }
            List<FactorStore.Layer> layers = new ArrayList<>();
            for (EigenbasisStore.LayerQuality q : JSON.readValue(json, EigenbasisStore.Header.class).layers()) {
                for (String part : new String[]{".U_G", ".U_A"}) {
                    if (!st.contains(q.layer() + part)) {
                        throw new CheckpointFormatException(file, q.layer() + part, "is missing");
                    }
                }
                layers.add(new FactorStore.Layer(q.layer(), (int) st.info(q.layer() + ".U_A").shape()[0],
                        (int) st.info(q.layer() + ".U_G").shape()[0], 0));
            }
            return layers;
        }
    }

    /** The layers of whichever of the two was read, in file order. */
    static List<String> layers(FactorStore.Loaded factors, EigenbasisStore.Loaded bases) {
        return new ArrayList<>(factors != null ? factors.factors().keySet() : bases.bases().keySet());
    }
}
