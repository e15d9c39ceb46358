package dev.curvature.kfac.probe;

import dev.curvature.engine.DType;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.Workspace;

/**
 * The mean loss L(θ) of a model on one fixed token batch (B sequences of T positions; the mean over the positions
 * whose target is ≥ 0), as a function of the selected parameters θ at the model's current weights: its value and
 * its gradient by the engine's own backward. Owns the workspace and a gradient buffer for the whole model.
 */
public final class LossObjective implements AutoCloseable {
    private final Model model;
    private final ParameterSelection selection;
    private final Batch.Tokens batch;
    private final Workspace workspace;
    private final ParameterSet gradients;
    private final ParameterVector selectedGradient;
    private long evaluations;

    /** ids and targets (B·T, row-major (B, T)); the model must compute in F64 (differences of gradients need it). */
    public LossObjective(Model model, ParameterSelection selection, int batch, int time, int[] ids, int[] targets) {
        if (model.dtype() != DType.F64) {
            throw new IllegalArgumentException("curvature probes difference gradients and need a model loaded in "
                    + "F64, got " + model.dtype());
        }
        if (ids.length != (long) batch * time) {
            throw new IllegalArgumentException(ids.length + " ids for a batch of " + batch + " × " + time);
        }
        this.model = model;
        this.selection = selection;
        this.batch = new Batch.Tokens(ids.clone(), targets.clone());
        this.workspace = model.workspace(batch, time);
        this.gradients = model.allocateGradients();
        this.selectedGradient = ParameterVector.view(model.backend(), gradients, selection);
    }

    /** L at the model's current weights (one forward pass). */
    public double loss() {
        evaluations++;
        double loss = model.forward(workspace, batch);
        if (!Double.isFinite(loss)) {
            throw new IllegalStateException("the loss on the probe batch is " + loss
                    + (workspace.countedPositions() == 0 ? " (no position has a target)" : ""));
        }
        return loss;
    }

    /** Writes ∇_θ L at the model's current weights into {@code out}; returns L (one forward and one backward). */
    public double gradient(ParameterVector out) {
        double loss = loss();
        gradients.zero(model.backend());
        model.backward(workspace, gradients);
        out.copyFrom(selectedGradient);
        return loss;
    }

    public Model model() {
        return model;
    }

    public ParameterSelection selection() {
        return selection;
    }

    /** Forward passes run so far (each gradient counts one). */
    public long evaluations() {
        return evaluations;
    }

    @Override
    public void close() {
        workspace.close();
        gradients.close();
    }
}
