package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.EigenQuality;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.gpt2.Gpt2Model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Edits chosen linear layers of a model in place from their K-FAC factors: per layer, eigendecompose A/n and G/n,
 * select components by curvature mass at that layer's ρ (keep or ablate), rebuild W. Every layer uses its original
 * W (layers are independent). A layer with ρ = 1 in keep mode is left untouched.
 */
public final class ModelEditor {
    private ModelEditor() {
    }

    /** One edited layer: the edit itself and the quality of both eigendecompositions. */
    public record LayerResult(CurvatureEdit.LayerReport edit, double rho, String mode, EigenQuality gQuality,
                              EigenQuality aQuality) {
    }

    public static List<LayerResult> edit(Backend backend, Gpt2Model model, FactorStore.Loaded factors,
                                         Map<String, Double> rhoByLayer, CurvatureMassSelection.Mode mode) {
        String fingerprint = ModelFingerprint.of(model.weights());
        if (!fingerprint.equals(factors.description().model())) {
            throw new IllegalArgumentException("the factors were collected on another model (" + factors.description()
                    .model() + "), this model is " + fingerprint);
        }
        List<LayerResult> results = new ArrayList<>();
        for (Map.Entry<String, Double> entry : rhoByLayer.entrySet()) {
            String layer = entry.getKey();
            double rho = entry.getValue();
            if (!(rho >= 0 && rho <= 1)) {
                throw new IllegalArgumentException("rho for layer " + layer + " is " + rho + "; it must be in [0, 1]");
            }
            KroneckerFactors f = factors.factors().get(layer);
            if (f == null) {
                throw new IllegalArgumentException("no factors for layer " + layer + " (the file holds "
                        + factors.factors().keySet() + ")");
            }
            Tensor w = model.weights().get(layer + ".weight");
            if (w.dim(1) != f.activations().dim() || w.dim(0) != f.gradients().dim()) {
                throw new IllegalArgumentException("layer " + layer + " weight " + w.describe() + " does not match its "
                        + "factors: A is " + f.activations().dim() + "², G is " + f.gradients().dim() + "²");
            }
        }
        for (Map.Entry<String, Double> entry : rhoByLayer.entrySet()) {
            String layer = entry.getKey();
            double rho = entry.getValue();
            try (FactorEigenbasis basis = FactorEigenbasis.of(backend, factors.factors().get(layer))) {
                Tensor w = model.weights().get(layer + ".weight");
                CurvatureMassSelection selection = CurvatureMassSelection.select(mode, basis.gradientEigenvalues(),
                        basis.activationEigenvalues(), rho);
                CurvatureEdit.LayerReport report;
                if (mode == CurvatureMassSelection.Mode.KEEP && rho == 1.0) {
                    report = new CurvatureEdit.LayerReport(layer, w.size(), w.size(), 1.0, (int) w.dim(0),
                            (int) w.dim(1), 0.0);
                } else {
                    report = CurvatureEdit.apply(backend, w, w, basis, selection.kept());
                }
                results.add(new LayerResult(report, rho, mode.name(), basis.gradientQuality(),
                        basis.activationQuality()));
            }
        }
        return results;
    }
}
