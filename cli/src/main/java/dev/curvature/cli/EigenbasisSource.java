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
            return FactorStore.readDescription(file, st).layers();
        }
    }

    /** The layers of an eigenbasis file, with d_out and d_in from the shapes of U_G and U_A in its header. */
    static List<FactorStore.Layer> eigenbasisLayers(Path file) throws IOException {
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            List<FactorStore.Layer> layers = new ArrayList<>();
            for (EigenbasisStore.LayerQuality q : EigenbasisStore.readHeader(file, st).layers()) {
                int[] dims = new int[2];
                String[] parts = {".U_A", ".U_G"};
                for (int k = 0; k < 2; k++) {
                    String name = q.layer() + parts[k];
                    if (!st.contains(name)) {
                        throw new CheckpointFormatException(file, name, "is missing");
                    }
                    long[] shape = st.info(name).shape();
                    if (shape.length != 2 || shape[0] != shape[1] || shape[0] < 1 || shape[0] > Integer.MAX_VALUE) {
                        throw new CheckpointFormatException(file, name, "has shape " + java.util.Arrays.toString(shape)
                                + ", expected a square matrix of eigenvectors");
                    }
                    dims[k] = (int) shape[0];
                }
                layers.add(new FactorStore.Layer(q.layer(), dims[0], dims[1], 0));
            }
            return layers;
        }
    }

    /** The layers of whichever of the two was read, in file order. */
    static List<String> layers(FactorStore.Loaded factors, EigenbasisStore.Loaded bases) {
        return new ArrayList<>(factors != null ? factors.factors().keySet() : bases.bases().keySet());
    }
}
