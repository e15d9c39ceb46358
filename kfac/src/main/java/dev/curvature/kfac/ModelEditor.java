package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.EigenQuality;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.model.Model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Edits chosen linear layers of a model in place from their K-FAC factors: per layer, eigendecompose A/n and G/n,
 * select components by a {@link Rule} (curvature mass at that layer's ρ, or per-factor ranks; keep or ablate),
 * rebuild W. Every layer uses its original W (layers are independent). A layer the rule keeps whole (ρ = 1 in keep
 * mode) is left untouched, bit for bit. All inputs are checked before any weight changes.
 */
public final class ModelEditor {
    private ModelEditor() {
    }

    /**
     * How components are chosen: by curvature mass at each layer's ρ ({@link CurvatureMassSelection}, keep or ablate),
     * or by per-factor variance ranks ({@link PerFactorVarianceSelection}, same ρ_G and ρ_A for every layer).
     */
    public record Rule(String name, CurvatureMassSelection.Mode mode, double rhoG, double rhoA) {
        public static Rule mass(CurvatureMassSelection.Mode mode) {
            return new Rule("mass", mode, Double.NaN, Double.NaN);
        }

        public static Rule ranks(double rhoG, double rhoA, boolean ablate) {
            for (double r : new double[]{rhoG, rhoA}) {
                if (!(r >= 0 && r <= 1)) {
                    throw new IllegalArgumentException("ranks rule: ρ_G and ρ_A must be in [0, 1], got " + rhoG
                            + " and " + rhoA);
                }
            }
            return new Rule("ranks", ablate ? CurvatureMassSelection.Mode.ABLATE : CurvatureMassSelection.Mode.KEEP,
                    rhoG, rhoA);
        }

        ComponentMask select(double[] lambda, double[] mu, double rho) {
            if (name.equals("mass")) {
                return CurvatureMassSelection.select(mode, lambda, mu, rho).kept();
            }
            ComponentMask kept = PerFactorVarianceSelection.select(lambda, mu, rhoG, rhoA).kept();
            return mode == CurvatureMassSelection.Mode.KEEP ? kept : kept.complement();
        }

        boolean leavesUntouched(double rho) {
            return name.equals("mass") ? mode == CurvatureMassSelection.Mode.KEEP && rho == 1.0
                    : mode == CurvatureMassSelection.Mode.KEEP && rhoG == 1.0 && rhoA == 1.0;
        }

        @Override
        public String toString() {
            return name.equals("mass") ? "mass " + mode : "ranks " + mode + " rhoG=" + rhoG + " rhoA=" + rhoA;
        }
    }

    /** One edited layer: the edit itself and the quality of both eigendecompositions. */
    public record LayerResult(CurvatureEdit.LayerReport edit, double rho, String mode, EigenQuality gQuality,
                              EigenQuality aQuality) {
    }

    /** Edits from factors: each layer's eigenbasis is computed here (and released after its edit). */
    public static List<LayerResult> edit(Backend backend, Model model, FactorStore.Loaded factors,
                                         Map<String, Double> rhoByLayer, Rule rule) {
        return edit(backend, model, factors, rhoByLayer, rule, result -> { });
    }

    /** {@link #edit(Backend, Model, FactorStore.Loaded, Map, Rule)} reporting each layer as it is done. */
    public static List<LayerResult> edit(Backend backend, Model model, FactorStore.Loaded factors,
                                         Map<String, Double> rhoByLayer, Rule rule,
                                         java.util.function.Consumer<LayerResult> onLayer) {
        Map<String, int[]> dims = new java.util.LinkedHashMap<>();
        factors.factors().forEach((layer, f) -> dims.put(layer, new int[]{f.gradients().dim(), f.activations().dim()}));
        return edit(backend, model, factors.description().model(), dims, rhoByLayer, rule,
                layer -> FactorEigenbasis.of(backend, factors.factors().get(layer)), true, onLayer);
    }

    /** Edits from stored eigenbases ({@link EigenbasisStore}): no eigendecomposition is repeated. */
    public static List<LayerResult> edit(Backend backend, Model model, EigenbasisStore.Loaded bases,
                                         Map<String, Double> rhoByLayer, Rule rule) {
        return edit(backend, model, bases, rhoByLayer, rule, result -> { });
    }

    /** {@link #edit(Backend, Model, EigenbasisStore.Loaded, Map, Rule)} reporting each layer as it is done. */
    public static List<LayerResult> edit(Backend backend, Model model, EigenbasisStore.Loaded bases,
                                         Map<String, Double> rhoByLayer, Rule rule,
                                         java.util.function.Consumer<LayerResult> onLayer) {
        Map<String, int[]> dims = new java.util.LinkedHashMap<>();
        bases.bases().forEach((layer, b) -> dims.put(layer, new int[]{(int) b.gradientEigenvectors().dim(0),
                (int) b.activationEigenvectors().dim(0)}));
        return edit(backend, model, bases.factors().model(), dims, rhoByLayer, rule, bases.bases()::get, false,
                onLayer);
    }

    /**
     * The EK-FAC edit from factors (each layer's eigenbasis computed here): per layer, the components of largest
     * corrected eigenvalue Λ_ij holding ρ of ΣΛ ({@link CorrectedMassSelection}) are kept (or, with ABLATE,
     * removed); the rest of the edit is the K-FAC one. {@code corrected} must have been rotated into exactly these
     * eigenbases ({@link EkfacStore#requireBasis}); the report's mass is the kept fraction of ΣΛ.
     */
    public static List<LayerResult> editCorrected(Backend backend, Model model, FactorStore.Loaded factors,
                                                  EkfacStore.Loaded corrected, Map<String, Double> rhoByLayer,
                                                  CurvatureMassSelection.Mode mode,
                                                  java.util.function.Consumer<LayerResult> onLayer) {
        Map<String, int[]> dims = new java.util.LinkedHashMap<>();
        factors.factors().forEach((layer, f) -> dims.put(layer, new int[]{f.gradients().dim(), f.activations().dim()}));
        return editCorrected(backend, model, factors.description().model(), dims, corrected, rhoByLayer, mode,
                layer -> FactorEigenbasis.of(backend, factors.factors().get(layer)), true, onLayer);
    }

    /** {@link #editCorrected(Backend, Model, FactorStore.Loaded, EkfacStore.Loaded, Map, CurvatureMassSelection.Mode,
     * java.util.function.Consumer)} from stored eigenbases. */
    public static List<LayerResult> editCorrected(Backend backend, Model model, EigenbasisStore.Loaded bases,
                                                  EkfacStore.Loaded corrected, Map<String, Double> rhoByLayer,
                                                  CurvatureMassSelection.Mode mode,
                                                  java.util.function.Consumer<LayerResult> onLayer) {
        Map<String, int[]> dims = new java.util.LinkedHashMap<>();
        bases.bases().forEach((layer, b) -> dims.put(layer, new int[]{(int) b.gradientEigenvectors().dim(0),
                (int) b.activationEigenvectors().dim(0)}));
        return editCorrected(backend, model, bases.factors().model(), dims, corrected, rhoByLayer, mode,
                bases.bases()::get, false, onLayer);
    }

    private static List<LayerResult> editCorrected(Backend backend, Model model, String factorsModel,
                                                   Map<String, int[]> dims, EkfacStore.Loaded corrected,
                                                   Map<String, Double> rhoByLayer, CurvatureMassSelection.Mode mode,
                                                   java.util.function.Function<String, FactorEigenbasis> basisOf,
                                                   boolean releaseBases,
                                                   java.util.function.Consumer<LayerResult> onLayer) {
        Map<String, EkfacStore.Layer> entries = new java.util.LinkedHashMap<>();
        corrected.description().layers().forEach(l -> entries.put(l.name(), l));
        ModelFingerprint.require(model.parameters(), corrected.description().model());
        for (String layer : rhoByLayer.keySet()) {
            EkfacStore.Layer entry = entries.get(layer);
            int[] d = dims.get(layer);
            if (entry == null) {
                throw new IllegalArgumentException("no corrected eigenvalues for layer " + layer + " (the EK-FAC file "
                        + "holds " + entries.keySet() + ")");
            }
            if (d != null && (entry.dOut() != d[0] || entry.dIn() != d[1])) {
                throw new IllegalArgumentException("layer " + layer + ": corrected eigenvalues are " + entry.dOut()
                        + "×" + entry.dIn() + ", its factors " + d[0] + "×" + d[1]);
            }
        }
        LayerEdit byLambda = (layer, w, basis, rho) -> {
            String digest = EkfacStore.basisDigest(basis);
            if (!digest.equals(entries.get(layer).basis())) {
                throw new IllegalArgumentException("layer " + layer + ": the corrected eigenvalues were rotated into "
                        + "another eigenbasis (" + entries.get(layer).basis() + ") than this one (" + digest
                        + "); edit with the eigenbasis file the EK-FAC pass used");
            }
            CorrectedEigenvalues.Layer values = corrected.eigenvalues().layer(layer);
            CorrectedMassSelection selection = CorrectedMassSelection.select(mode, values.mean(), values.dOut(),
                    values.dIn(), rho);
            CurvatureEdit.LayerReport r = CurvatureEdit.apply(backend, w, w, basis, selection.kept());
            double massKept = selection.totalMass() == 0 ? 0 : selection.keptMass() / selection.totalMass();
            return new CurvatureEdit.LayerReport(r.layer(), r.pairsKept(), r.pairsTotal(), massKept,
                    r.gEigenvectorsUsed(), r.aEigenvectorsUsed(), r.relativeChange());
        };
        return edit(backend, model, factorsModel, dims, rhoByLayer, "ekfac " + mode,
                rho -> mode == CurvatureMassSelection.Mode.KEEP && rho == 1.0, byLambda, basisOf, releaseBases,
                onLayer);
    }

    private static List<LayerResult> edit(Backend backend, Model model, String factorsModel,
                                          Map<String, int[]> dims, Map<String, Double> rhoByLayer, Rule rule,
                                          java.util.function.Function<String, FactorEigenbasis> basisOf,
                                          boolean releaseBases, java.util.function.Consumer<LayerResult> onLayer) {
        LayerEdit byRule = (layer, w, basis, rho) -> CurvatureEdit.apply(backend, w, w, basis,
                rule.select(basis.gradientEigenvalues(), basis.activationEigenvalues(), rho));
        return edit(backend, model, factorsModel, dims, rhoByLayer, rule.toString(), rule::leavesUntouched, byRule,
                basisOf, releaseBases, onLayer);
    }

    /** How one layer is edited in place from its eigenbasis at its ρ. */
    @FunctionalInterface
    private interface LayerEdit {
        CurvatureEdit.LayerReport apply(String layer, Tensor w, FactorEigenbasis basis, double rho);
    }

    private static List<LayerResult> edit(Backend backend, Model model, String factorsModel,
                                          Map<String, int[]> dims, Map<String, Double> rhoByLayer, String ruleName,
                                          java.util.function.DoublePredicate leavesUntouched, LayerEdit layerEdit,
                                          java.util.function.Function<String, FactorEigenbasis> basisOf,
                                          boolean releaseBases, java.util.function.Consumer<LayerResult> onLayer) {
        ModelFingerprint.require(model.parameters(), factorsModel);
        for (Map.Entry<String, Double> entry : rhoByLayer.entrySet()) {
            String layer = entry.getKey();
            double rho = entry.getValue();
            if (!(rho >= 0 && rho <= 1)) {
                throw new IllegalArgumentException("rho for layer " + layer + " is " + rho + "; it must be in [0, 1]");
            }
            int[] d = dims.get(layer);
            if (d == null) {
                throw new IllegalArgumentException("no factors for layer " + layer + " (the file holds "
                        + dims.keySet() + ")");
            }
            Tensor w = model.parameters().get(layer + ".weight");
            if (w.dim(0) != d[0] || w.dim(1) != d[1]) {
                throw new IllegalArgumentException("layer " + layer + " weight " + w.describe() + " does not match its "
                        + "factors: G is " + d[0] + "², A is " + d[1] + "²");
            }
        }
        List<LayerResult> results = new ArrayList<>();
        // Keep each layer's original W until all layers are done: a failure in a later layer (an eigensolver that
        // does not converge, memory) restores the earlier ones, so the model is never left half-edited.
        try (WeightSnapshot originals = new WeightSnapshot(backend, model)) {
            boolean done = false;
            try {
                for (Map.Entry<String, Double> entry : rhoByLayer.entrySet()) {
                    String layer = entry.getKey();
                    double rho = entry.getValue();
                    FactorEigenbasis basis = basisOf.apply(layer);
                    try {
                        Tensor w = model.parameters().get(layer + ".weight");
                        CurvatureEdit.LayerReport report;
                        if (leavesUntouched.test(rho)) {
                            report = new CurvatureEdit.LayerReport(layer, w.size(), w.size(), 1.0, (int) w.dim(0),
                                    (int) w.dim(1), 0.0);
                        } else {
                            originals.save(layer);
                            report = layerEdit.apply(layer, w, basis, rho);
                            // nothing non-finite leaves an edit: the caller writes these weights
                            backend.requireFinite(w.named(layer + ".weight"), "the edit of layer " + layer);
                        }
                        LayerResult result = new LayerResult(report, rho, ruleName, basis.gradientQuality(),
                                basis.activationQuality());
                        results.add(result);
                        onLayer.accept(result);
                    } finally {
                        if (releaseBases) {
                            basis.close();
                        }
                    }
                }
                done = true;
            } finally {
                if (!done) {
                    originals.restore();
                }
            }
        }
        return results;
    }
}
