package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.engine.Transpose;
import dev.curvature.transformer.LinearObserver;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.TokenRows;
import dev.curvature.transformer.model.Workspace;

import java.lang.foreign.Arena;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * EK-FAC's second pass (George et al. 2018; ALGORITHMS.md §4): accumulates the corrected eigenvalues of chosen
 * linear layers in their K-FAC eigenbases by observing forward and backward passes, with the labels and loss of
 * {@link KfacCollector} (same seed and batches: same sampled labels).
 *
 * <p>Per batch of B windows of T rows (N = B·T), for a layer with input rows X (N, q) and output gradients
 * Γ (N, p), both rotated into the eigenbasis by one GEMM each — X̃ = X U_A (N, q), Γ̃ = Γ U_G (N, p), float64:
 * <ul>
 *   <li>{@link CorrectedEigenvalues.Granularity#SEQUENCE}: the rotated per-window gradient
 *       U_Gᵀ ∇_W ℓ_b U_A = Γ̃_bᵀ X̃_b (p, q), Γ̃_b and X̃_b the T rows of window b (a GEMM with inner dimension T),
 *       squared elementwise and added; one sample per window. All T rows enter, counted or not: the weight gradient
 *       of a window is the sum over every position (the last position's output gradient is zero in a causal model,
 *       since no loss depends on it);</li>
 *   <li>{@link CorrectedEigenvalues.Granularity#TOKEN}: Σ_t (Γ̃_t ⊙ Γ̃_t)(X̃_t ⊙ X̃_t)ᵀ = (Γ̃ ⊙ Γ̃)ᵀ (X̃ ⊙ X̃) over the
 *       counted rows (one GEMM); one sample per counted row.</li>
 * </ul>
 * Γ is the gradient of the SUMMED loss, as in the factors, so Λ carries no 1/N² factor.
 */
public final class EkfacCollector implements LinearObserver, AutoCloseable {
    private final Backend backend;
    private final Model model;
    private final KfacCollector.Labels labels;
    private final long seed;
    private final CorrectedEigenvalues.Granularity granularity;
    private final Map<String, FactorEigenbasis> bases;
    private final CorrectedEigenvalues eigenvalues;
    private final Arena arena = Arena.ofShared();
    private final Map<String, Tensor> rotatedInputs = new HashMap<>();   // layer → X̃ (capacity, q) of this batch
    private Tensor sampled;               // (N) I32 labels drawn from the model's softmax
    private Tensor countedRows;           // (n) I32 counted rows (TOKEN granularity)
    // flat float64 buffers, viewed as contiguous matrices of the shape at hand (elementwise kernels want those)
    private Tensor converted;             // capacity · max d: a float64 copy of an observed tensor
    private Tensor rotatedGradients;      // capacity · max p: Γ̃
    private Tensor gathered;              // capacity · max q: counted rows of X̃, squared (TOKEN)
    private Tensor gatheredGradients;     // capacity · max p: counted rows of Γ̃, squared (TOKEN)
    private Tensor window;                // max p · max q: one window's rotated gradient (SEQUENCE)
    private long capacity;
    private int batch;
    private int time;
    private int counted;
    private long batchesSeen;

    /**
     * @param bases       the eigenbasis of every layer to correct, made from factors of this model
     * @param labels      gold or sampled labels (use the factors' own)
     * @param seed        label-sampling seed (use the factors' own for the same labels on the same batches)
     * @param granularity what one sample of the expectation is
     */
    public EkfacCollector(Backend backend, Model model, Map<String, FactorEigenbasis> bases,
                          KfacCollector.Labels labels, long seed, CorrectedEigenvalues.Granularity granularity) {
        this.backend = backend;
        this.model = model;
        this.labels = labels;
        this.seed = seed;
        this.granularity = granularity;
        this.bases = new LinkedHashMap<>(bases);
        Map<String, int[]> shapes = new LinkedHashMap<>();
        Map<String, int[]> weights = new HashMap<>();
        model.linearLayers().forEach(l -> weights.put(l.name(), new int[]{l.dOut(), l.dIn()}));
        for (Map.Entry<String, FactorEigenbasis> e : bases.entrySet()) {
            int[] w = weights.get(e.getKey());
            int p = (int) e.getValue().gradientEigenvectors().dim(0);
            int q = (int) e.getValue().activationEigenvectors().dim(0);
            if (w == null || w[0] != p || w[1] != q) {
                throw new IllegalArgumentException("eigenbasis of layer " + e.getKey() + " (U_G " + p + "², U_A " + q
                        + "²) does not fit " + (w == null ? "any linear layer of the model" : "its weight ("
                        + w[0] + ", " + w[1] + ")"));
            }
            shapes.put(e.getKey(), new int[]{p, q});
        }
        this.eigenvalues = CorrectedEigenvalues.zeros(backend, shapes, granularity);
    }

    /** Adds one batch of token windows (ids and gold targets B·T, −1 = not counted); returns the labels' mean loss. */
    public double collect(Workspace act, int[] ids, int[] targets) {
        return collect(act, new Batch.Tokens(ids, targets));
    }

    /** Adds one batch of any kind; returns the mean loss of the labels used. */
    public double collect(Workspace act, Batch batch) {
        prepare(act, model.countedRows(batch, TokenRows.LABELLED));
        return LabelledBackward.run(backend, model, act, batch, labels, seed, batchesSeen++, sampled, this);
    }

    private void prepare(Workspace act, int[] rows) {
        batch = act.batch();
        time = act.time();
        long n = (long) batch * time;
        if (n > capacity) {
            int maxP = 0;
            int maxQ = 0;
            for (CorrectedEigenvalues.Layer l : eigenvalues.layers().values()) {
                maxP = Math.max(maxP, l.dOut());
                maxQ = Math.max(maxQ, l.dIn());
            }
            capacity = n;
            sampled = backend.allocate(arena, DType.I32, n);
            countedRows = backend.allocate(arena, DType.I32, n);
            converted = backend.allocate(arena, DType.F64, n * Math.max(maxP, maxQ));
            rotatedGradients = backend.allocate(arena, DType.F64, n * maxP);
            rotatedInputs.clear();
            for (CorrectedEigenvalues.Layer l : eigenvalues.layers().values()) {
                rotatedInputs.put(l.name(), backend.allocate(arena, DType.F64, n, l.dIn()));
            }
            if (granularity == CorrectedEigenvalues.Granularity.TOKEN) {
                gathered = backend.allocate(arena, DType.F64, n * maxQ);
                gatheredGradients = backend.allocate(arena, DType.F64, n * maxP);
            } else {
                window = backend.allocate(arena, DType.F64, (long) maxP * maxQ);
            }
        }
        counted = rows.length;
        backend.writeInts(countedRows.slice(0, 0, counted), rows);
    }

    @Override
    public boolean observes(String name) {
        return bases.containsKey(name);
    }

    @Override
    public void onInput(String name, Tensor x) {
        // X̃ = X U_A, kept until this layer's backward
        Tensor uA = bases.get(name).activationEigenvectors();
        Tensor rotated = rotatedInputs.get(name).slice(0, 0, x.dim(0));
        backend.gemm(rotated, asF64(x), Transpose.NONE, uA, Transpose.NONE, 1.0, 0.0);
    }

    @Override
    public void onOutputGradient(String name, Tensor dy) {
        long n = dy.dim(0);
        Tensor uG = bases.get(name).gradientEigenvectors();
        int p = (int) dy.dim(1);
        Tensor gRot = matrix(rotatedGradients, n, p);
        backend.gemm(gRot, asF64(dy), Transpose.NONE, uG, Transpose.NONE, 1.0, 0.0);       // Γ̃ = Γ U_G
        Tensor xRot = rotatedInputs.get(name).slice(0, 0, n);
        CorrectedEigenvalues.Layer layer = eigenvalues.layer(name);
        int q = (int) xRot.dim(1);
        if (granularity == CorrectedEigenvalues.Granularity.SEQUENCE) {
            Tensor w = matrix(window, p, q);
            for (int b = 0; b < batch; b++) {
                long from = (long) b * time;
                backend.gemm(w, gRot.slice(0, from, from + time), Transpose.TRANSPOSED,
                        xRot.slice(0, from, from + time), Transpose.NONE, 1.0, 0.0);    // Γ̃_bᵀ X̃_b
                backend.mul(w, w, w);
                backend.axpy(layer.sum(), w, 1.0);
            }
            layer.added(batch);
        } else {
            Tensor rows = countedRows.slice(0, 0, counted);
            Tensor g2 = matrix(gatheredGradients, counted, p);
            Tensor x2 = matrix(gathered, counted, q);
            backend.gatherRows(g2, gRot, rows);
            backend.gatherRows(x2, xRot, rows);
            backend.mul(g2, g2, g2);
            backend.mul(x2, x2, x2);
            backend.gemm(layer.sum(), g2, Transpose.TRANSPOSED, x2, Transpose.NONE, 1.0, 1.0);
            layer.added(counted);
        }
    }

    /** {@code t} (N, d) as float64: itself, or a copy in the conversion buffer. */
    private Tensor asF64(Tensor t) {
        if (t.dtype() == DType.F64) {
            return t;
        }
        Tensor out = matrix(converted, t.dim(0), t.dim(1));
        backend.copy(out, t);
        return out;
    }

    /** The first rows · columns elements of a flat buffer as a contiguous (rows, columns) matrix. */
    private static Tensor matrix(Tensor flat, long rows, long columns) {
        return flat.slice(0, 0, rows * columns).reshape(rows, columns);
    }

    /** Continues a run whose first {@code batches} batches are already in the sums (sampling streams go on). */
    public void resumeAfter(long batches) {
        this.batchesSeen = batches;
    }

    /** The sums so far (owned by this collector until {@link #close}). */
    public CorrectedEigenvalues eigenvalues() {
        return eigenvalues;
    }

    @Override
    public void close() {
        eigenvalues.close();
        arena.close();
    }
}
