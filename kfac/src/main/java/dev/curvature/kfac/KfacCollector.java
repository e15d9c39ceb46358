package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.CovarianceAccumulator;
import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.LinearObserver;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.gpt2.Gpt2Activations;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.gpt2.Gpt2Parameters;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Collects K-FAC factors for chosen linear layers of a GPT-2 by observing its forward and backward passes.
 *
 * <p>Per batch: forward on the ids; the labels are the gold next tokens ({@link Labels#GOLD}) or tokens sampled from
 * the model's own softmax at each position ({@link Labels#SAMPLED}, seeded: the true Fisher); backward of the
 * SUMMED cross-entropy over counted positions, so each output gradient g is the per-position gradient of the summed
 * loss (K-FAC's G carries no 1/N² factor; the edit's selection is scale-invariant anyway). Counted positions are
 * those with a gold target ≥ 0: the last position of each window (no next token) and masked positions never count.
 */
public final class KfacCollector implements LinearObserver, AutoCloseable {
    /** Where the labels of the loss come from. */
    public enum Labels { GOLD, SAMPLED }

    private final Backend backend;
    private final Gpt2Model model;
    private final Labels labels;
    private final long seed;
    private long batchesSeen;             // batches collected so far: the sampling stream of batch k is (seed, k)
    private final Map<String, KroneckerFactors> factors = new LinkedHashMap<>();
    private final Arena arena = Arena.ofShared();
    private Tensor countedRows;           // (n) I32 indices of counted rows in the current batch
    private Tensor scratch;               // (n, max d) rows gathered for accumulation
    private Gpt2Parameters grads;         // parameter gradients the backward pass also produces (discarded)
    private int currentCount;             // counted rows in the current batch

    public KfacCollector(Backend backend, Gpt2Model model, LayerSelection selection, Labels labels, long seed,
                         CovariancePrecision precision) {
        this.backend = backend;
        this.model = model;
        this.labels = labels;
        this.seed = seed;
        for (String layer : selection.select(linearLayers(model))) {
            Tensor w = model.weights().get(layer + ".weight");
            int dOut = (int) w.dim(0);
            int dIn = (int) w.dim(1);
            factors.put(layer, new KroneckerFactors(layer,
                    new CovarianceAccumulator(backend, dIn, precision, layer + ".A"),
                    new CovarianceAccumulator(backend, dOut, precision, layer + ".G")));
        }
    }

    /** The HF names of the model's linear layers, in order. */
    public static List<String> linearLayers(Gpt2Model model) {
        return linearLayers(model.config());
    }

    /** The HF names of the linear layers of a GPT-2 of this shape, in order. */
    public static List<String> linearLayers(Gpt2Config config) {
        List<String> layers = new ArrayList<>();
        for (int l = 0; l < config.nLayer(); l++) {
            for (String suffix : new String[]{"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"}) {
                layers.add("h." + l + "." + suffix);
            }
        }
        return layers;
    }

    /**
     * Adds one batch: {@code ids} (B·T) and gold {@code targets} (B·T, −1 = not counted) in the shape of {@code act}.
     * Returns the mean loss of the labels used.
     */
    public double collect(Gpt2Activations act, int[] ids, int[] targets) {
        int counted = 0;
        for (int t : targets) {
            counted += t >= 0 ? 1 : 0;
        }
        int[] rows = new int[counted];
        for (int i = 0, k = 0; i < targets.length; i++) {
            if (targets[i] >= 0) {
                rows[k++] = i;
            }
        }
        prepare(rows, act);
        model.addObserver(this);
        try {
            double loss = model.forward(act, ids, targets);
            if (labels == Labels.SAMPLED) {
                // a generator per batch, seeded by (seed, batch index): a resumed run samples what the
                // uninterrupted run would have, with no generator state to save
                SplittableRandom random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + batchesSeen);
                loss = model.retarget(act, sampleLabels(act, targets, random));
            }
            batchesSeen++;
            if (grads == null) {
                grads = model.allocateGradients();
            }
            model.backward(act, grads, 1.0);
            return loss;
        } finally {
            model.removeObserver(this);
        }
    }

    /** For each counted position, a token drawn from softmax(logits); −1 elsewhere. */
    private int[] sampleLabels(Gpt2Activations act, int[] gold, SplittableRandom random) {
        int[] sampled = new int[gold.length];
        Tensor logits = act.logits();
        int v = (int) logits.dim(1);
        double[] row = new double[v];
        for (int i = 0; i < gold.length; i++) {
            if (gold[i] < 0) {
                sampled[i] = -1;
                continue;
            }
            logits.readRow(i, row);
            double max = Double.NEGATIVE_INFINITY;
            for (double x : row) {
                max = Math.max(max, x);
            }
            double total = 0;
            for (int j = 0; j < v; j++) {
                row[j] = Math.exp(row[j] - max);
                total += row[j];
            }
            double u = random.nextDouble() * total;
            int pick = v - 1;
            for (int j = 0; j < v; j++) {
                u -= row[j];
                if (u < 0) {
                    pick = j;
                    break;
                }
            }
            sampled[i] = pick;
        }
        return sampled;
    }

    private void prepare(int[] rows, Gpt2Activations act) {
        int maxDim = 0;
        for (KroneckerFactors f : factors.values()) {
            maxDim = Math.max(maxDim, Math.max(f.activations().dim(), f.gradients().dim()));
        }
        if (countedRows == null || countedRows.dim(0) < rows.length || scratch.dim(0) < rows.length) {
            long capacity = (long) act.batch() * act.time();
            countedRows = backend.allocate(arena, DType.I32, capacity);
            scratch = backend.allocate(arena, model.dtype(), capacity, maxDim);
        }
        java.lang.foreign.MemorySegment.copy(rows, 0, countedRows.segment(), java.lang.foreign.ValueLayout.JAVA_INT, 0,
                rows.length);
        currentCount = rows.length;
    }

    @Override
    public boolean observes(String name) {
        return factors.containsKey(name);
    }

    @Override
    public void onInput(String name, Tensor x) {
        factors.get(name).activations().accumulate(countedRowsOf(x), 1.0);
    }

    @Override
    public void onOutputGradient(String name, Tensor dy) {
        factors.get(name).gradients().accumulate(countedRowsOf(dy), 1.0);
    }

    /** The counted rows of x (N, d) gathered into scratch (n, d). */
    private Tensor countedRowsOf(Tensor x) {
        Tensor out = scratch.slice(0, 0, currentCount).slice(1, 0, x.dim(1));
        backend.gatherRows(out, x, countedRows.slice(0, 0, currentCount));
        return out;
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
        for (KroneckerFactors f : factors.values()) {
            f.activations().close();
            f.gradients().close();
        }
        if (grads != null) {
            grads.close();
        }
        arena.close();
    }
}
