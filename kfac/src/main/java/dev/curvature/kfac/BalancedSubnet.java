package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.Workspace;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * BalancedSubnet, the unlearning baseline of Sakarvadia et al. (arXiv 2410.02159; ALGORITHMS.md §1.7): the weights
 * stay frozen, a real score s_ij is learned for every weight of the chosen layers, and the edited layer is
 * W' = W ⊙ m with the binary mask m_ij = 0 for the ⌈ratio · p·q⌉ weights of largest |s_ij| of that layer (ties to the
 * lower row-major index), 1 elsewhere.
 *
 * <p><b>Objective.</b> L(m) = (1 − w) · CE_retain(W ⊙ m) − w · CE_forget(W ⊙ m), w = loss weight: descent on the
 * mean cross-entropy of clean (retain) windows, ascent on that of the memorized (forget) sequences. ⚠ How the repo
 * splits the weight between the two terms is paraphrased in ALGORITHMS.md, not quoted; this is the convex split.
 *
 * <p><b>Straight-through estimator.</b> The mask is piecewise constant in s; its backward treats the drop indicator
 * 1 − m as if it were |s|, so ∂L/∂s_ij := −sign(s_ij) · ∂L/∂m_ij with ∂L/∂m_ij = W_ij · ∂L/∂W'_ij, the exact
 * gradient of L with respect to a continuous mask at the current binary one ({@link #maskGradient}, checked against
 * finite differences). Scores start at 1 (plus noise of 1e-9 to break ties) and move by SGD with momentum:
 * v ← μ v + ∂L/∂s, s ← s − lr · v. A weight whose dropping helps (∂L/∂m > 0: keeping it lowers the forget loss
 * or raises the retain loss) grows its score and is dropped. ⚠ The repo's score initialization is not in
 * ALGORITHMS.md; with scores near 1 the mask depends on lr only through the tie-breaking noise.
 *
 * <p>Each step sees every forget sequence (one epoch of the forget set) and the next {@code retainBatch} retain
 * windows, cyclically. The model is edited in place; {@link #restore} puts the original weights back.
 */
public final class BalancedSubnet implements AutoCloseable {
    /**
     * @param ratio        fraction of each layer's weights the mask drops, in [0, 1]
     * @param lossWeight   w, the weight of the forget (ascent) term, in [0, 1]
     * @param learningRate SGD step size
     * @param momentum     SGD momentum (the paper's 0.9)
     * @param steps        optimizer steps (= epochs over the forget set)
     * @param retainBatch  retain windows per step
     * @param seed         tie-breaking noise of the initial scores
     */
    public record Options(double ratio, double lossWeight, double learningRate, double momentum, int steps,
                          int retainBatch, long seed) {
        public Options {
            if (!(ratio >= 0 && ratio <= 1) || !(lossWeight >= 0 && lossWeight <= 1)) {
                throw new IllegalArgumentException("BalancedSubnet: ratio and loss weight must be in [0, 1], got "
                        + ratio + " and " + lossWeight);
            }
            if (!(learningRate > 0) || !(momentum >= 0 && momentum < 1) || steps < 0 || retainBatch < 1) {
                throw new IllegalArgumentException("BalancedSubnet: need lr > 0, momentum in [0, 1), steps ≥ 0 and "
                        + "retain batch ≥ 1; got " + learningRate + ", " + momentum + ", " + steps + ", " + retainBatch);
            }
        }
    }

    /** The losses at the mask a step started from. */
    public record Step(int step, double forgetLoss, double retainLoss, double objective) {
    }

    /** What the final mask drops in one layer. */
    public record LayerOutcome(String layer, long dropped, long total, double relativeChange) {
    }

    /** The objective at a mask and its gradient with respect to the (continuous) mask of every layer. */
    public record Objective(double forgetLoss, double retainLoss, double value, Map<String, double[]> maskGradient) {
    }

    private final Backend backend;
    private final Model model;
    private final List<String> layers;
    private final Options options;
    private final Map<String, double[]> original = new LinkedHashMap<>();   // W, row-major (p, q)
    private final Map<String, double[]> scores = new LinkedHashMap<>();
    private final Map<String, double[]> velocity = new LinkedHashMap<>();
    private final int[] forgetIds;
    private final int[] forgetTargets;
    private final int forgetCount;
    private final int forgetTime;
    private final int[] retain;
    private final int time;
    private final long retainWindows;
    private long nextRetain;
    private final WeightSnapshot snapshot;

    /**
     * @param forget sequences to forget, all of one length T_f ≤ the context (every next token is scored)
     * @param retain a clean token stream, cut into consecutive windows of {@code time}
     */
    public BalancedSubnet(Backend backend, Model model, List<String> layers, List<int[]> forget, int[] retain,
                          int time, Options options) {
        if (forget.isEmpty() || layers.isEmpty()) {
            throw new IllegalArgumentException("BalancedSubnet needs at least one forget sequence and one layer");
        }
        this.backend = backend;
        this.model = model;
        this.layers = List.copyOf(layers);
        this.options = options;
        this.forgetTime = forget.get(0).length;
        for (int[] f : forget) {
            if (f.length != forgetTime || f.length < 2 || f.length > model.config().contextLength()) {
                throw new IllegalArgumentException("forget sequences must share one length in [2, "
                        + model.config().contextLength() + "]; got " + f.length + " and " + forgetTime);
            }
        }
        this.forgetCount = forget.size();
        this.forgetIds = new int[forgetCount * forgetTime];
        this.forgetTargets = new int[forgetIds.length];
        for (int b = 0; b < forgetCount; b++) {
            int[] f = forget.get(b);
            for (int t = 0; t < forgetTime; t++) {
                forgetIds[b * forgetTime + t] = f[t];
                forgetTargets[b * forgetTime + t] = t + 1 < forgetTime ? f[t + 1] : -1;
            }
        }
        if (time < 2 || time > model.config().contextLength() || retain.length < time) {
            throw new IllegalArgumentException("retain windows of " + time + " tokens need a stream of at least one "
                    + "window and a context of at least " + time + "; have " + retain.length + " tokens");
        }
        this.retain = retain;
        this.time = time;
        this.retainWindows = retain.length / time;
        SplittableRandom random = new SplittableRandom(options.seed());
        for (String layer : layers) {
            Tensor w = model.parameters().get(layer + ".weight");
            original.put(layer, w.toDoubleArray());
            double[] s = new double[(int) w.size()];
            for (int k = 0; k < s.length; k++) {
                s[k] = 1 + 1e-9 * (random.nextDouble() - 0.5);
            }
            scores.put(layer, s);
            velocity.put(layer, new double[s.length]);
        }
        this.snapshot = new WeightSnapshot(backend, model);
        layers.forEach(snapshot::save);
    }

    /** Runs the optimizer; leaves the model with the final mask applied. Returns the losses of every step. */
    public List<Step> train(java.util.function.IntConsumer onStep) {
        List<Step> history = new ArrayList<>();
        for (int step = 0; step < options.steps(); step++) {
            Map<String, double[]> masks = masks();
            Objective o = objective(masks, nextRetainWindows());
            history.add(new Step(step, o.forgetLoss(), o.retainLoss(), o.value()));
            for (String layer : layers) {
                double[] s = scores.get(layer);
                double[] v = velocity.get(layer);
                double[] gm = o.maskGradient().get(layer);
                for (int k = 0; k < s.length; k++) {
                    double gs = -Math.signum(s[k]) * gm[k];        // straight-through: ∂L/∂s = −sign(s) ∂L/∂m
                    v[k] = options.momentum() * v[k] + gs;
                    s[k] -= options.learningRate() * v[k];
                }
            }
            onStep.accept(step + 1);
        }
        apply(masks());
        return history;
    }

    /** The current binary masks: 0 for the top ⌈ratio · n⌉ of |s| per layer. */
    public Map<String, double[]> masks() {
        Map<String, double[]> out = new LinkedHashMap<>();
        for (String layer : layers) {
            double[] s = scores.get(layer);
            int drop = (int) Math.min(s.length, Math.ceil(options.ratio() * s.length));
            double[] mask = new double[s.length];
            Arrays.fill(mask, 1.0);
            if (drop > 0) {
                double[] magnitude = new double[s.length];
                for (int k = 0; k < s.length; k++) {
                    magnitude[k] = Math.abs(s[k]);
                }
                ScatteredComponents top = CorrectedMassSelection.top(magnitude, 1, s.length, drop);
                for (long at = top.first(); at >= 0; at = top.next(at)) {
                    mask[(int) at] = 0.0;
                }
            }
            out.put(layer, mask);
        }
        return out;
    }

    /** Writes W ⊙ m into the model's weights of every layer. */
    public void apply(Map<String, double[]> masks) {
        try (Arena arena = Arena.ofConfined()) {
            for (String layer : layers) {
                double[] w = original.get(layer);
                double[] m = masks.get(layer);
                double[] edited = new double[w.length];
                for (int k = 0; k < w.length; k++) {
                    edited[k] = w[k] * m[k] + 0.0;   // + 0.0: a dropped negative weight is +0, not −0
                }
                Tensor target = model.parameters().get(layer + ".weight");
                backend.copy(target, Tensor.of(arena, DType.F64, edited, target.shape()));
            }
        }
    }

    /** The first {@code retainBatch} windows from the cursor (cyclic), advancing it. */
    private long nextRetainWindows() {
        long first = nextRetain;
        nextRetain = (nextRetain + options.retainBatch()) % retainWindows;
        return first;
    }

    /**
     * L and ∂L/∂m at {@code masks} (continuous values allowed), with the retain windows starting at window
     * {@code firstRetain}: the model's weights are set to W ⊙ m and left so.
     */
    public Objective objective(Map<String, double[]> masks, long firstRetain) {
        apply(masks);
        double w = options.lossWeight();
        try (ParameterSet grads = model.allocateGradients();
             Workspace forgetWs = model.workspace(forgetCount, forgetTime);
             Workspace retainWs = model.workspace(options.retainBatch(), time)) {
            double forgetLoss = model.forward(forgetWs, new Batch.Tokens(forgetIds, forgetTargets));
            model.backward(forgetWs, grads, -w / forgetWs.countedPositions());
            int[] ids = new int[options.retainBatch() * time];
            int[] targets = new int[ids.length];
            for (int b = 0; b < options.retainBatch(); b++) {
                long window = (firstRetain + b) % retainWindows;
                for (int t = 0; t < time; t++) {
                    ids[b * time + t] = retain[(int) (window * time + t)];
                    targets[b * time + t] = t + 1 < time ? retain[(int) (window * time + t + 1)] : -1;
                }
            }
            double retainLoss = model.forward(retainWs, new Batch.Tokens(ids, targets));
            model.backward(retainWs, grads, (1 - w) / retainWs.countedPositions());
            Map<String, double[]> gradient = new LinkedHashMap<>();
            for (String layer : layers) {
                double[] gw = grads.get(layer + ".weight").toDoubleArray();   // ∂L/∂W'
                double[] wo = original.get(layer);
                double[] gm = new double[gw.length];
                for (int k = 0; k < gm.length; k++) {
                    gm[k] = wo[k] * gw[k];                                   // ∂L/∂m = W ⊙ ∂L/∂W'
                }
                gradient.put(layer, gm);
            }
            return new Objective(forgetLoss, retainLoss, (1 - w) * retainLoss - w * forgetLoss, gradient);
        }
    }

    /** ∂L/∂m at {@code masks} for the first retain windows (what a step at that mask uses). */
    public Map<String, double[]> maskGradient(Map<String, double[]> masks) {
        return objective(masks, 0).maskGradient();
    }

    /** The scores of {@code layer} (live). */
    public double[] scores(String layer) {
        return scores.get(layer);
    }

    /** What the current mask drops per layer, and ‖W − W'‖_F / ‖W‖_F. */
    public List<LayerOutcome> outcome() {
        List<LayerOutcome> out = new ArrayList<>();
        Map<String, double[]> masks = masks();
        for (String layer : layers) {
            double[] w = original.get(layer);
            double[] m = masks.get(layer);
            long dropped = 0;
            double change = 0;
            double norm = 0;
            for (int k = 0; k < w.length; k++) {
                dropped += m[k] == 0 ? 1 : 0;
                change += m[k] == 0 ? w[k] * w[k] : 0;
                norm += w[k] * w[k];
            }
            out.add(new LayerOutcome(layer, dropped, w.length, norm == 0 ? 0 : Math.sqrt(change / norm)));
        }
        return out;
    }

    /** Puts the original weights back, bit for bit. */
    public void restore() {
        snapshot.restore();
    }

    @Override
    public void close() {
        snapshot.close();
    }
}
