package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.CovarianceAccumulator;
import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.CovarianceScratch;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.LinearObserver;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.LinearLayer;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.TokenRows;
import dev.curvature.transformer.model.Workspace;

import java.lang.foreign.Arena;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Collects K-FAC factors for chosen linear layers of a model by observing its forward and backward passes.
 *
 * <p>Per batch: forward on the ids; the labels are the gold next tokens ({@link Labels#GOLD}) or tokens sampled from
 * the model's own softmax at each position ({@link Labels#SAMPLED}, seeded: the true Fisher); backward of the
 * SUMMED cross-entropy over counted positions, so each output gradient g is the per-position gradient of the summed
 * loss (K-FAC's G carries no 1/N² factor; the edit's selection is scale-invariant anyway). Counted positions are
 * those with a gold target ≥ 0: the last position of each window (no next token) and masked positions never count.
 * Layers that share their input (SwiGLU's gate_proj and up_proj) share one A, accumulated once.
 */
public final class KfacCollector implements LinearObserver, AutoCloseable {
    /** Where the labels of the loss come from. */
    public enum Labels { GOLD, SAMPLED }

    private final Backend backend;
    private final Model model;
    private final Labels labels;
    private final long seed;
    private final TokenRows rows;
    private long batchesSeen;             // batches collected so far: the sampling stream of batch k is (seed, k)
    private final Map<String, KroneckerFactors> factors = new LinkedHashMap<>();
    private final Set<String> inputsAccumulated = new HashSet<>();   // layers whose onInput adds to their A
    private final Arena arena = Arena.ofShared();
    private final CovarianceScratch productScratch;   // every sum's float32 batch products, formed one at a time
    private Tensor countedRows;           // (n) I32 indices of counted rows in the current batch
    private Tensor scratch;               // (n, max d) rows gathered for accumulation
    private Tensor sampled;               // (N) I32 labels drawn from the model's softmax
    private int currentCount;             // counted rows in the current batch
    private OnePassMoments moments;       // EK-FAC's one-pass accumulators, when asked for

    public KfacCollector(Backend backend, Model model, LayerSelection selection, Labels labels, long seed,
                         CovariancePrecision precision) {
        this(backend, model, selection, labels, seed, precision, TokenRows.LABELLED);
    }

    /**
     * A collector counting the rows {@code rows} picks: {@link TokenRows#LABELLED} (the positions with a target; a
     * ViT's CLS token, the paper's choice) or {@link TokenRows#ALL} (every token of a scored sample).
     */
    public KfacCollector(Backend backend, Model model, LayerSelection selection, Labels labels, long seed,
                         CovariancePrecision precision, TokenRows rows) {
        this.backend = backend;
        this.rows = rows;
        this.model = model;
        this.labels = labels;
        this.seed = seed;
        this.productScratch = new CovarianceScratch(backend);
        Map<String, LinearLayer> byName = new LinkedHashMap<>();
        model.linearLayers().forEach(l -> byName.put(l.name(), l));
        List<String> picked = selection.select(model.linearLayers());
        Map<String, CovarianceAccumulator> sharedInputs = new HashMap<>();   // input group → its one A
        for (String name : picked) {
            LinearLayer layer = byName.get(name);
            CovarianceAccumulator a = sharedInputs.get(layer.inputGroup());
            if (a == null) {      // the group's first selected layer owns and accumulates A
                a = new CovarianceAccumulator(backend, layer.dIn(), precision, name + ".A", productScratch);
                sharedInputs.put(layer.inputGroup(), a);
                inputsAccumulated.add(name);
            }
            factors.put(name, new KroneckerFactors(name, a,
                    new CovarianceAccumulator(backend, layer.dOut(), precision, name + ".G", productScratch)));
        }
    }

    /**
     * Adds one batch: {@code ids} (B·T) and gold {@code targets} (B·T, −1 = not counted) in the shape of {@code act}.
     * Returns the mean loss of the labels used.
     */
    public double collect(Workspace act, int[] ids, int[] targets) {
        return collect(act, new Batch.Tokens(ids, targets));
    }

    /**
     * Adds one batch of any kind, counting the rows the collector's {@link TokenRows} picks
     * ({@link Model#countedRows}). Returns the mean loss of the labels used.
     */
    public double collect(Workspace act, Batch batch) {
        prepare(model.countedRows(batch, rows), act);
        return LabelledBackward.run(backend, model, act, batch, labels, seed, batchesSeen++, sampled, this);
    }

    private void prepare(int[] rows, Workspace act) {
        int maxDim = 0;
        for (KroneckerFactors f : factors.values()) {
            maxDim = Math.max(maxDim, Math.max(f.activations().dim(), f.gradients().dim()));
        }
        long capacity = (long) act.batch() * act.time();
        if (countedRows == null || countedRows.dim(0) < capacity) {
            countedRows = backend.allocate(arena, DType.I32, capacity);
            scratch = backend.allocate(arena, model.dtype(), capacity, maxDim);
        }
        if (sampled == null || sampled.dim(0) != capacity) {
            sampled = backend.allocate(arena, DType.I32, capacity);
        }
        backend.writeInts(countedRows.slice(0, 0, rows.length), rows);
        currentCount = rows.length;
        if (moments != null) {
            moments.reserve(capacity);
        }
    }

    @Override
    public boolean observes(String name) {
        return factors.containsKey(name);
    }

    @Override
    public void onInput(String name, Tensor x) {
        if (inputsAccumulated.contains(name)) {
            factors.get(name).activations().accumulate(countedRowsOf(x), 1.0);
        }
        if (moments != null) {
            moments.input(name, countedRowsOf(x));
        }
    }

    @Override
    public void onOutputGradient(String name, Tensor dy) {
        Tensor rows = countedRowsOf(dy);
        factors.get(name).gradients().accumulate(rows, 1.0);
        if (moments != null) {
            moments.gradient(name, rows);
        }
    }

    /** The counted rows of x (N, d) gathered into scratch (n, d). */
    private Tensor countedRowsOf(Tensor x) {
        Tensor out = scratch.slice(0, 0, currentCount).slice(1, 0, x.dim(1));
        backend.gatherRows(out, x, countedRows.slice(0, 0, currentCount));
        return out;
    }

    /**
     * Also accumulates EK-FAC's one-pass moments Σ‖a‖² g gᵀ and Σ‖g‖² a aᵀ over the same counted rows
     * ({@link OnePassMoments}); call before the first batch. Returns this collector.
     */
    public KfacCollector withOnePassMoments() {
        if (batchesSeen > 0) {
            throw new IllegalStateException("one-pass moments must be asked for before the first batch");
        }
        if (moments == null) {
            Map<String, int[]> shapes = new LinkedHashMap<>();
            factors.forEach((name, f) -> shapes.put(name, new int[]{f.gradients().dim(), f.activations().dim()}));
            moments = OnePassMoments.zeros(backend, shapes);
        }
        return this;
    }

    /** The one-pass moments, or null when not asked for ({@link #withOnePassMoments}). */
    public OnePassMoments onePassMoments() {
        return moments;
    }

    /** Continues a run whose first {@code batches} batches are already in the (restored) factors. */
    public void resumeAfter(long batches) {
        this.batchesSeen = batches;
    }

    /** Factors by layer name, in model order. */
    public Map<String, KroneckerFactors> factors() {
        return Collections.unmodifiableMap(factors);
    }

    @Override
    public void close() {
        for (Map.Entry<String, KroneckerFactors> e : factors.entrySet()) {
            if (inputsAccumulated.contains(e.getKey())) {
                e.getValue().activations().close();
            }
            e.getValue().gradients().close();
        }
        if (moments != null) {
            moments.close();
        }
        productScratch.close();
        arena.close();
    }
}
