package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.kfac.EigenbasisStore;
import dev.curvature.kfac.FactorStore;
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

    /** The layers of whichever of the two was read, in file order. */
    static List<String> layers(FactorStore.Loaded factors, EigenbasisStore.Loaded bases) {
        return new ArrayList<>(factors != null ? factors.factors().keySet() : bases.bases().keySet());
    }
}
