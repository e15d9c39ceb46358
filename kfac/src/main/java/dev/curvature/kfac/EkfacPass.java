package dev.curvature.kfac;

import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.Workspace;
import dev.curvature.transformer.train.TokenWindows;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * EK-FAC's second data pass as a whole run, cut like {@link FactorCollection}: a token stream in consecutive windows
 * of {@code time} tokens, batches of {@code batch} windows through an {@link EkfacCollector}, the sums written with
 * their {@link EkfacStore.Description}. With the factors' own labels, seed, window, batch and corpus it draws the
 * very labels the factors were collected with.
 */
public final class EkfacPass {
    private EkfacPass() {
    }

    /**
     * @param labels      gold or sampled labels
     * @param seed        sampling seed
     * @param batch       windows per batch
     * @param time        tokens per window
     * @param maxTokens   stop after this many tokens (≤ 0: the whole stream)
     * @param granularity what one sample is
     */
    public record Options(KfacCollector.Labels labels, long seed, int batch, int time, long maxTokens,
                          CorrectedEigenvalues.Granularity granularity) {
    }

    /** The description as written and the mean loss of the labels. */
    public record Result(EkfacStore.Description description, double meanLoss) {
    }

    /**
     * Runs the pass over {@code tokens} for every layer of {@code bases} (eigenbases of {@code factors}, factors
     * collected on this model) and writes {@code output}.
     */
    public static Result run(Model model, int[] tokens, Map<String, FactorEigenbasis> bases,
                             FactorStore.Description factors, Options options, Path output,
                             FactorCollection.Progress progress) throws IOException {
        String fingerprint = ModelFingerprint.of(model.parameters());
        ModelFingerprint.require(model.parameters(), factors.model());
        if (options.time() < 2 || options.time() > model.config().contextLength()) {
            throw new IllegalArgumentException("window length " + options.time() + " must be in [2, n_positions = "
                    + model.config().contextLength() + "]");
        }
        if (options.batch() < 1) {
            throw new IllegalArgumentException("batch must be ≥ 1, got " + options.batch());
        }
        long usable = options.maxTokens() > 0 ? Math.min(tokens.length, options.maxTokens()) : tokens.length;
        long windows = usable / options.time();
        if (windows == 0) {
            throw new IllegalArgumentException("the corpus has " + tokens.length + " tokens, fewer than one window of "
                    + options.time());
        }
        int batches = (int) ((windows + options.batch() - 1) / options.batch());
        double lossSum = 0;
        long lossCount = 0;
        try (EkfacCollector collector = new EkfacCollector(model.backend(), model, bases, options.labels(),
                options.seed(), options.granularity())) {
            Workspace act = null;
            try {
                for (int b = 0; b < batches; b++) {
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
                    lossSum += loss * act.countedPositions();
                    lossCount += act.countedPositions();
                    long done = (long) b * options.batch() + size;
                    progress.update(done, windows, done * options.time());
                }
            } finally {
                if (act != null) {
                    act.close();
                }
            }
            FactorCollection.CorpusDigest corpus = new FactorCollection.CorpusDigest(tokens);
            corpus.advanceTo(windows * options.time());
            List<EkfacStore.Layer> layers = new ArrayList<>();
            for (CorrectedEigenvalues.Layer l : collector.eigenvalues().layers().values()) {
                layers.add(new EkfacStore.Layer(l.name(), l.dOut(), l.dIn(), l.samples(),
                        EkfacStore.basisDigest(bases.get(l.name()))));
            }
            EkfacStore.Description description = new EkfacStore.Description(EkfacStore.VERSION, fingerprint, factors,
                    options.granularity().name(), options.labels().name(), List.of(options.seed()),
                    List.of(corpus.current()), windows * options.time(), options.time(), options.batch(), layers);
            EkfacStore.write(output, collector.eigenvalues(), description);
            return new Result(description, lossCount == 0 ? Double.NaN : lossSum / lossCount);
        }
    }
}
