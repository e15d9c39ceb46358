package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.model.Model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * The K-FAC edit and its two controls, swept over layer sets and budgets, each variant evaluated on the same model
 * (ALGORITHMS.md §1.10). For every (layer set, budget) the K-FAC edit chooses, per layer, the components to keep;
 * the controls then keep <em>the same fraction</em> of each layer, chosen without the loss's curvature:
 * <ul>
 *   <li>{@link Method#KFAC}: the top-curvature components (pairs by λ_iμ_j) holding a mass ρ, or the top
 *       ⌊f·pq⌋ of them for a kept-fraction budget f;</li>
 *   <li>{@link Method#SVD}: the best rank-r approximation of W with r = round(f_l · min(p, q)), f_l the K-FAC
 *       edit's kept fraction of that layer (at least 1 when K-FAC keeps anything) — W's own largest directions.
 *       A rank-r matrix has r(p + q − r) free parameters, more than the f_l·p·q coefficients K-FAC keeps (≈ 1.2×
 *       for 512×128 at f = 0.1, up to 2× for square W): the comparison favours SVD, not K-FAC;</li>
 *   <li>{@link Method#RANDOM}: as many components as K-FAC kept, drawn uniformly from the same eigenbasis;</li>
 *   <li>{@link Method#EKFAC}: as many components as K-FAC kept, of the same eigenbasis, those of largest corrected
 *       eigenvalue Λ_ij ({@link CorrectedMassSelection#top}; needs the corrected eigenvalues, ALGORITHMS.md §4)
 *       instead of largest λ_iμ_j — EK-FAC against K-FAC at equal kept fraction.</li>
 * </ul>
 * A variant that keeps every component of a layer leaves it untouched, bit for bit (as {@link ModelEditor} does at
 * ρ = 1). The model is edited in place and restored bit for bit after each variant, also when the evaluation fails
 * (every layer starts from its original W).
 *
 * @param <M> the model type the evaluation takes
 * @param <R> what the evaluation returns
 */
public final class EditSweep<M extends Model, R> {
    /** Which components a variant keeps. */
    public enum Method { KFAC, SVD, RANDOM, EKFAC }

    /** A named group of layers edited together. */
    public record LayerSet(String name, List<String> layers) {
        public LayerSet {
            layers = List.copyOf(layers);
            if (layers.isEmpty()) {
                throw new IllegalArgumentException("layer set '" + name + "' selects no layer");
            }
            if (new java.util.HashSet<>(layers).size() != layers.size()) {
                throw new IllegalArgumentException("layer set '" + name + "' lists a layer twice: " + layers);
            }
        }
    }

    /**
     * How much each layer keeps: a curvature-mass fraction ρ (the paper's knob) or a fraction f of the p·q
     * components, counted from the top of the curvature ranking (at this scale ρ ≤ 0.9 keeps very few components).
     */
    public record Budget(Kind kind, double value) {
        public enum Kind { MASS, COUNT }

        public Budget {
            Objects.requireNonNull(kind, "kind");
            if (!(value >= 0 && value <= 1)) {
                throw new IllegalArgumentException((kind == Kind.MASS ? "ρ" : "kept fraction") + " must be in [0, 1], "
                        + "got " + value);
            }
        }

        public static Budget mass(double rho) {
            return new Budget(Kind.MASS, rho);
        }

        public static Budget count(double fraction) {
            return new Budget(Kind.COUNT, fraction);
        }

        @Override
        public String toString() {
            return (kind == Kind.MASS ? "ρ=" : "f=") + value;
        }
    }

    /**
     * What a variant did to one layer.
     *
     * @param layer          HF layer name
     * @param kept           components kept (for SVD: rank r)
     * @param total          components of the layer (for SVD: min(p, q))
     * @param curvatureMass  Σ_kept λ_iμ_j / Σλ Σμ (null for SVD, which is not in the curvature basis)
     * @param energyKept     ‖W'‖_F² / ‖W‖_F² for SVD; null otherwise
     * @param relativeChange ‖W − W'‖_F / ‖W‖_F
     */
    public record LayerOutcome(String layer, long kept, long total, Double curvatureMass, Double energyKept,
                               double relativeChange) {
        public double keptFraction() {
            return (double) kept / total;
        }
    }

    /**
     * One evaluated variant.
     *
     * @param method       K-FAC or a control
     * @param layerSet     the layer set's name
     * @param budget       the budget the K-FAC edit of this row's group was given
     * @param keptFraction kept components over all edited layers (Σ kept / Σ total)
     * @param layers       per layer
     * @param evaluation   what the evaluation returned for the edited model
     */
    public record Variant<R>(Method method, String layerSet, Budget budget, double keptFraction,
                             List<LayerOutcome> layers, R evaluation) {
    }

    /** Called after each variant, with its index and the number of variants. */
    @FunctionalInterface
    public interface Progress<R> {
        void variantDone(int done, int total, Variant<R> variant);
    }

    private final Backend backend;
    private final M model;
    private final Map<String, FactorEigenbasis> bases;
    private final Function<M, R> evaluation;
    private final long seed;
    private final Map<String, double[]> corrected;

    /**
     * @param model      the model, edited in place during {@link #run} and restored after every variant
     * @param bases      eigenbases of the layers any set may edit, made from factors collected on this model
     * @param evaluation what to measure on each edited model
     * @param seed       seed of the random control (each layer and budget gets its own stream)
     */
    public EditSweep(Backend backend, M model, Map<String, FactorEigenbasis> bases,
                     Function<M, R> evaluation, long seed) {
        this(backend, model, bases, Map.of(), evaluation, seed);
    }

    /**
     * A sweep that can also run {@link Method#EKFAC}.
     *
     * @param corrected per layer, the corrected eigenvalues Λ (row-major d_out · d_in) in that layer's eigenbasis
     *                  of {@code bases} ({@link CorrectedEigenvalues.Layer#mean})
     */
    public EditSweep(Backend backend, M model, Map<String, FactorEigenbasis> bases, Map<String, double[]> corrected,
                     Function<M, R> evaluation, long seed) {
        this.backend = backend;
        this.model = model;
        this.bases = Map.copyOf(bases);
        this.corrected = Map.copyOf(corrected);
        this.evaluation = evaluation;
        this.seed = seed;
    }

    /** Every layer set × budget × method, in that order; methods not listed are skipped. */
    public List<Variant<R>> run(List<LayerSet> sets, List<Budget> budgets, List<Method> methods,
                                Progress<R> progress) {
        for (LayerSet set : sets) {
            for (String layer : set.layers()) {
                if (!bases.containsKey(layer)) {
                    throw new IllegalArgumentException("layer set '" + set.name() + "': no eigenbasis for layer "
                            + layer + " (have " + bases.keySet() + ")");
                }
                Tensor w = model.parameters().get(layer + ".weight");
                FactorEigenbasis basis = bases.get(layer);
                if (w.dim(0) != basis.gradientEigenvalues().length || w.dim(1) != basis.activationEigenvalues().length) {
                    throw new IllegalArgumentException("layer " + layer + " weight " + w.describe() + " does not "
                            + "match its eigenbasis: G is " + basis.gradientEigenvalues().length + "², A is "
                            + basis.activationEigenvalues().length + "²");
                }
                if (methods.contains(Method.EKFAC) && (!corrected.containsKey(layer)
                        || corrected.get(layer).length != w.size())) {
                    throw new IllegalArgumentException("layer set '" + set.name() + "': the EK-FAC edit needs the "
                            + "corrected eigenvalues of layer " + layer + " (" + w.dim(0) + "×" + w.dim(1) + "), have "
                            + (corrected.containsKey(layer) ? corrected.get(layer).length + " values" : "none"));
                }
            }
        }
        if (sets.stream().map(LayerSet::name).distinct().count() != sets.size()) {
            throw new IllegalArgumentException("two layer sets share a name: "
                    + sets.stream().map(LayerSet::name).toList());
        }
        int total = sets.size() * budgets.size() * methods.size();
        List<Variant<R>> variants = new ArrayList<>();
        try (WeightSnapshot originals = new WeightSnapshot(backend, model)) {
            for (LayerSet set : sets) {
                for (Budget budget : budgets) {
                    Map<String, ComponentMask> kfac = new LinkedHashMap<>();
                    for (String layer : set.layers()) {
                        kfac.put(layer, select(bases.get(layer), budget));
                    }
                    for (Method method : methods) {
                        List<LayerOutcome> outcomes = new ArrayList<>();
                        R result;
                        try {
                            for (String layer : set.layers()) {
                                Tensor w = originals.save(layer);
                                outcomes.add(edit(method, layer, w, kfac.get(layer), budget));
                            }
                            result = evaluation.apply(model);
                        } finally {
                            originals.restore();
                        }
                        long kept = 0;
                        long all = 0;
                        for (LayerOutcome o : outcomes) {
                            kept += o.kept();
                            all += o.total();
                        }
                        Variant<R> variant = new Variant<>(method, set.name(), budget, (double) kept / all, outcomes,
                                result);
                        variants.add(variant);
                        progress.variantDone(variants.size(), total, variant);
                    }
                }
            }
        }
        return variants;
    }

    /** The K-FAC selection of one layer at a budget. */
    static ComponentMask select(FactorEigenbasis basis, Budget budget) {
        double[] lambda = basis.gradientEigenvalues();
        double[] mu = basis.activationEigenvalues();
        return switch (budget.kind()) {
            case MASS -> CurvatureMassSelection.keep(lambda, mu, budget.value()).kept();
            case COUNT -> CurvatureBand.topPairs(lambda, mu,
                    CurvatureBand.rank(budget.value(), (long) lambda.length * mu.length));
        };
    }

    private LayerOutcome edit(Method method, String layer, Tensor w, ComponentMask kfac, Budget budget) {
        FactorEigenbasis basis = bases.get(layer);
        long pairs = (long) kfac.rows() * kfac.columns();
        int full = Math.min(kfac.rows(), kfac.columns());
        // keeps everything (or ρ = 1, which ModelEditor also leaves alone even where zero products stay out of S):
        // untouched, bit for bit, whatever the method
        if (kfac.pairCount() == pairs || budget.kind() == Budget.Kind.MASS && budget.value() == 1.0) {
            return new LayerOutcome(layer, method == Method.SVD ? full : pairs, method == Method.SVD ? full : pairs,
                    method == Method.SVD ? null : 1.0, method == Method.SVD ? 1.0 : null, 0.0);
        }
        return switch (method) {
            case KFAC -> {
                CurvatureEdit.LayerReport r = CurvatureEdit.apply(backend, w, w, basis, kfac);
                yield new LayerOutcome(layer, r.pairsKept(), r.pairsTotal(), r.massKept(), null, r.relativeChange());
            }
            case SVD -> {
                long rank = Math.round(kfac.pairFraction() * full);
                rank = Math.min(full, kfac.pairCount() > 0 ? Math.max(1, rank) : 0);
                SvdTruncation.Report r = SvdTruncation.apply(backend, layer, w, w, (int) rank);
                yield new LayerOutcome(layer, r.rank(), r.fullRank(), null, r.energyKept(), r.relativeChange());
            }
            case RANDOM -> {
                ScatteredComponents kept = ScatteredComponents.random(kfac.rows(), kfac.columns(), kfac.pairCount(),
                        randomSeed(layer, budget));
                CurvatureEdit.LayerReport r = CurvatureEdit.apply(backend, w, w, basis, kept);
                yield new LayerOutcome(layer, r.pairsKept(), r.pairsTotal(), r.massKept(), null, r.relativeChange());
            }
            case EKFAC -> {
                ScatteredComponents kept = CorrectedMassSelection.top(corrected.get(layer), kfac.rows(),
                        kfac.columns(), kfac.pairCount());
                CurvatureEdit.LayerReport r = CurvatureEdit.apply(backend, w, w, basis, kept);
                yield new LayerOutcome(layer, r.pairsKept(), r.pairsTotal(), r.massKept(), null, r.relativeChange());
            }
        };
    }

    /**
     * The random control's seed for (layer, budget): the user's seed, the layer name and the budget each pass
     * through a 64-bit finaliser (Stafford's mix13) before they are combined, so nearby seeds give unrelated streams
     * and a layer's draw does not depend on which sets it is in, the order of the budgets or the methods run.
     */
    long randomSeed(String layer, Budget budget) {
        long key = mix64(seed);
        key = mix64(key ^ mix64(layer.hashCode()));
        key = mix64(key ^ mix64(Double.doubleToLongBits(budget.value()) + budget.kind().ordinal()));
        return key;
    }

    private static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
