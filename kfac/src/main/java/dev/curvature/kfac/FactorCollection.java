package dev.curvature.kfac;

import dev.curvature.engine.CovariancePrecision;
import dev.curvature.transformer.gpt2.Gpt2Activations;
import dev.curvature.transformer.gpt2.Gpt2Model;

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
     */
    public record Options(String layers, KfacCollector.Labels labels, long seed, int batch, int time, long maxTokens,
                          CovariancePrecision precision) {
    }

    /** Progress callback: windows done of total, tokens done. */
    @FunctionalInterface
    public interface Progress {
        void update(long windowsDone, long windowsTotal, long tokens);
    }

    /** The result: description as written, and the mean loss of the labels over the run. */
    public record Result(FactorStore.Description description, double meanLoss) {
    }

    public static Result run(Gpt2Model model, int[] tokens, Options options, Path output, Progress progress)
            throws IOException {
        if (options.time() < 2 || options.time() > model.config().nPositions()) {
            throw new IllegalArgumentException("window length " + options.time() + " must be in [2, n_positions = "
                    + model.config().nPositions() + "]");
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
        try (KfacCollector collector = new KfacCollector(model.backend(), model, LayerSelection.parse(options.layers()),
                options.labels(), options.seed(), options.precision())) {
            Gpt2Activations act = null;
            try {
                for (int b = 0; b < batches; b++) {
                    int size = (int) Math.min(options.batch(), windows - (long) b * options.batch());
                    if (act == null || act.batch() != size) {
                        if (act != null) {
                            act.close();
                        }
                        act = model.activations(size, options.time());
                    }
                    int[] ids = new int[size * options.time()];
                    int[] targets = new int[ids.length];
                    for (int w = 0; w < size; w++) {
                        int start = (int) (((long) b * options.batch() + w) * options.time());
                        for (int t = 0; t < options.time(); t++) {
                            ids[w * options.time() + t] = tokens[start + t];
                            targets[w * options.time() + t] = t < options.time() - 1 ? tokens[start + t + 1] : -1;
                        }
                    }
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
            List<FactorStore.Layer> layers = new ArrayList<>();
            for (KroneckerFactors f : collector.factors().values()) {
                layers.add(new FactorStore.Layer(f.layer(), f.activations().dim(), f.gradients().dim(), f.positions()));
            }
            FactorStore.Description description = new FactorStore.Description(FactorStore.VERSION,
                    ModelFingerprint.of(model.weights()), options.labels().name(), options.seed(),
                    List.of(fingerprint(tokens, windows * options.time())), windows * options.time(), layers);
            FactorStore.write(output, collector.factors(), description);
            return new Result(description, lossSum / lossCount);
        }
    }

    /** "sha256:…" of the token ids actually used. */
    static String fingerprint(int[] tokens, long used) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            java.nio.ByteBuffer buffer = java.nio.ByteBuffer.allocate(4);
            for (int i = 0; i < used; i++) {
                buffer.clear();
                digest.update(buffer.putInt(tokens[i]).array());
            }
            return "sha256:" + HexFormat.of().formatHex(digest.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
