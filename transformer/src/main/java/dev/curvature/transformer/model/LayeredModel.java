package dev.curvature.transformer.model;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.LinearObserver;
import dev.curvature.transformer.layers.Linear;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * What every family's model class shares, written once: its backend, weights and config, the observers of its linear
 * layers and the calls that report to them, and the check that a workspace is the family's own.
 *
 * @param <W> the family's workspace
 */
public abstract class LayeredModel<W extends Workspace> implements Model {
    protected final Backend backend;
    protected final ParameterSet weights;
    private final ModelConfig config;
    private final Class<W> workspaceType;
    private final List<LinearObserver> observers = new CopyOnWriteArrayList<>();

    protected LayeredModel(Backend backend, ParameterSet weights, Class<W> workspaceType) {
        this.backend = backend;
        this.weights = weights;
        this.config = weights.config();
        this.workspaceType = workspaceType;
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public ParameterSet parameters() {
        return weights;
    }

    @Override
    public Backend backend() {
        return backend;
    }

    @Override
    public DType dtype() {
        return weights.dtype();
    }

    @Override
    public void addObserver(LinearObserver observer) {
        observers.add(observer);
    }

    @Override
    public void removeObserver(LinearObserver observer) {
        observers.remove(observer);
    }

    /** y (N, d_out) = x (N, d_in) · Wᵀ (+ b when the model has {@code name}.bias), reported to observers. */
    protected final void linearForward(String name, Tensor y, Tensor x) {
        for (LinearObserver o : observers) {
            if (o.observes(name)) {
                o.onInput(name, x);
            }
        }
        String bias = name + ".bias";
        Linear.forward(backend, y, x, weights.get(name + ".weight"), weights.contains(bias) ? weights.get(bias) : null);
        for (LinearObserver o : observers) {
            if (o.observes(name)) {
                o.onOutput(name, y);
            }
        }
    }

    /**
     * dy (N, d_out) → writes dx (N, d_in); accumulates the weight (and bias) gradients unless {@code grads} is null;
     * reports dy to observers.
     */
    protected final void linearBackward(String name, Tensor dx, ParameterSet grads, Tensor dy, Tensor x) {
        for (LinearObserver o : observers) {
            if (o.observes(name)) {
                o.onOutputGradient(name, dy);
            }
        }
        String bias = name + ".bias";
        Linear.backward(backend, dx, grads == null ? null : grads.get(name + ".weight"),
                grads == null || !weights.contains(bias) ? null : grads.get(bias), dy, x, weights.get(name + ".weight"));
    }

    /**
     * Where the gradient of the vector parameter {@code name} (a norm weight or a bias) accumulates: its tensor in
     * {@code grads}, or, when no parameter gradients are wanted, the workspace's {@code discard} buffer.
     */
    protected final Tensor vectorGradient(ParameterSet grads, Tensor discard, String name) {
        if (grads != null) {
            return grads.get(name);
        }
        return discard.slice(0, 0, weights.get(name).size());
    }

    /** The workspace as the family's own type; another family's is an error. */
    protected final W cast(Workspace ws) {
        if (!workspaceType.isInstance(ws)) {
            throw new IllegalArgumentException("a " + config.modelType() + " model needs its own workspace, got "
                    + ws.getClass().getSimpleName());
        }
        return workspaceType.cast(ws);
    }
}
