package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.LinearObserver;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.LinearLayer;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.Workspace;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Feeds the inputs of chosen linear layers, at the token positions of a data set, into their {@link BandActivation}
 * tallies while the model runs forward: a {@link LinearObserver} that gathers the wanted rows of each observed
 * layer's input x (B·T, d_in) and adds them to the layer's running sums straight away, so memory stays bounded by one
 * batch whatever the data set's size (no X is stored).
 *
 * <p>A data set is a list of token sequences, each run from position 0 (a memorized sample's prompt + suffix, or a
 * window of clean text). Sequences are packed B to a batch, padded at the end to the longest one, T; with causal
 * attention the padding cannot change the real positions, and only real positions are tallied.
 */
public final class BandInputs implements LinearObserver, AutoCloseable {
    private final Backend backend;
    private final Model model;
    private final Map<String, BandActivation> layers = new LinkedHashMap<>();
    private final Arena arena = Arena.ofShared();
    private final int widest;
    private Map<String, BandActivation.Tally> tallies;
    private Tensor rowIndex;     // (capacity) I32: rows of the current batch to tally
    private Tensor gathered;     // (capacity, widest d_in) F64
    private int rowCount;

    /** Observes {@code layers} of {@code model}; each must be a linear layer of the model with a matching d_in. */
    public BandInputs(Model model, Collection<BandActivation> layers) {
        this.backend = model.backend();
        this.model = model;
        List<String> available = model.linearLayers().stream().map(LinearLayer::name).toList();
        int widest = 0;
        for (BandActivation band : layers) {
            if (!available.contains(band.layer())) {
                arena.close();
                throw new IllegalArgumentException("layer " + band.layer() + " is not a linear layer of the model ("
                        + String.join(", ", available.subList(0, Math.min(8, available.size())))
                        + (available.size() > 8 ? ", ..." : "") + ")");
            }
            long dIn = model.parameters().get(band.layer() + ".weight").dim(1);
            if (dIn != band.inputWidth()) {
                arena.close();
                throw new IllegalArgumentException("layer " + band.layer() + " takes inputs of width " + dIn
                        + ", its band analysis expects " + band.inputWidth());
            }
            this.layers.put(band.layer(), band);
            widest = Math.max(widest, band.inputWidth());
        }
        if (this.layers.isEmpty()) {
            arena.close();
            throw new IllegalArgumentException("no layers to observe");
        }
        this.widest = widest;
    }

    /**
     * Runs {@code sequences} through the model, B = {@code batch} at a time, and tallies every position of each in
     * every observed layer, up to {@code maxPositions} positions in all (≤ 0: no cap; the sequence that reaches the
     * cap is cut there, which causal attention makes the same as running its prefix). Returns the means per layer,
     * in the order the layers were given.
     *
     * @throws IllegalArgumentException naming the sequence when one is empty or longer than the model's context
     */
    public Map<String, BandActivation.LayerMeans> measure(List<int[]> sequences, int batch, long maxPositions,
                                                          FactorCollection.Progress progress) {
        if (batch < 1) {
            throw new IllegalArgumentException("batch must be at least 1, got " + batch);
        }
        List<int[]> used = new ArrayList<>();
        long positions = 0;
        int time = 0;
        for (int s = 0; s < sequences.size(); s++) {
            int[] sequence = sequences.get(s);
            if (sequence.length == 0 || sequence.length > model.config().contextLength()) {
                throw new IllegalArgumentException("sequence " + s + " has " + sequence.length + " tokens; it needs 1 to"
                        + " n_positions = " + model.config().contextLength());
            }
            if (maxPositions > 0 && positions >= maxPositions) {
                break;
            }
            int take = maxPositions > 0 ? (int) Math.min(sequence.length, maxPositions - positions) : sequence.length;
            used.add(take == sequence.length ? sequence : java.util.Arrays.copyOf(sequence, take));
            positions += take;
            time = Math.max(time, take);
        }
        if (used.isEmpty()) {
            throw new IllegalArgumentException("no sequences to measure");
        }
        tallies = new LinkedHashMap<>();
        layers.forEach((name, band) -> tallies.put(name, band.newTally()));
        int capacity = batch * time;
        if (rowIndex == null || rowIndex.dim(0) < capacity) {
            rowIndex = backend.allocate(arena, DType.I32, capacity);
            gathered = backend.allocate(arena, DType.F64, capacity, widest);
        }
        long done = 0;
        try (Workspace act = model.workspace(batch, time)) {
            int[] ids = new int[capacity];
            int[] targets = new int[capacity];
            java.util.Arrays.fill(targets, -1);   // nothing is scored: only the inputs of the layers matter
            int[] rowsToTally = new int[capacity];
            for (int first = 0; first < used.size(); first += batch) {
                java.util.Arrays.fill(ids, 0);    // padding: any valid id, never tallied
                int n = 0;
                for (int b = 0; b < batch && first + b < used.size(); b++) {
                    int[] sequence = used.get(first + b);
                    System.arraycopy(sequence, 0, ids, b * time, sequence.length);
                    for (int t = 0; t < sequence.length; t++) {
                        rowsToTally[n++] = b * time + t;
                    }
                }
                backend.writeInts(rowIndex.slice(0, 0, n), java.util.Arrays.copyOf(rowsToTally, n));
                rowCount = n;
                model.addObserver(this);
                try {
                    model.forward(act, new Batch.Tokens(ids, targets));
                } finally {
                    model.removeObserver(this);
                }
                done += n;
                progress.update(Math.min(first + batch, used.size()), used.size(), done);
            }
        }
        Map<String, BandActivation.LayerMeans> means = new LinkedHashMap<>();
        tallies.forEach((name, tally) -> means.put(name, tally.means()));
        tallies = null;
        return means;
    }

    /**
     * Consecutive, non-overlapping windows of {@code time} tokens of a token stream, the last one possibly shorter,
     * up to {@code maxPositions} tokens in all (≤ 0: the whole stream) — clean text as sequences for {@link #measure}.
     */
    public static List<int[]> windows(int[] tokens, int time, long maxPositions) {
        if (time < 1) {
            throw new IllegalArgumentException("window length must be at least 1, got " + time);
        }
        long usable = maxPositions > 0 ? Math.min(tokens.length, maxPositions) : tokens.length;
        List<int[]> windows = new ArrayList<>();
        for (long start = 0; start < usable; start += time) {
            windows.add(java.util.Arrays.copyOfRange(tokens, (int) start, (int) Math.min(usable, start + time)));
        }
        return windows;
    }

    @Override
    public boolean observes(String name) {
        return tallies != null && layers.containsKey(name);
    }

    /** Gathers the tallied rows of x (B·T, d_in) and adds them to the layer's tally. */
    @Override
    public void onInput(String name, Tensor x) {
        Tensor rows = gathered.slice(0, 0, rowCount).slice(1, 0, x.dim(1));
        backend.gatherRows(rows, x, rowIndex.slice(0, 0, rowCount));
        layers.get(name).accumulate(tallies.get(name), rows);
    }

    @Override
    public void onOutputGradient(String name, Tensor dy) {
    }

    @Override
    public void close() {
        arena.close();
    }
}
