package dev.curvature.kfac.score;

import dev.curvature.engine.Backend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.Workspace;

import java.lang.foreign.Arena;

/**
 * {@link InputGradients} of a language model with respect to its input token embeddings: a sample is one window of
 * T tokens, x_b = its input embeddings (T·C, {@link Workspace#inputEmbeddings()} rows b·T … b·T + T − 1),
 * ℓ_b = Σ_t of its scored next-token losses, gradient {@link Workspace#inputEmbeddingGradient()} after a backward of
 * Σ_b ℓ_b (scale 1, no parameter gradients) from {@link Model#forwardFromEmbeddings}.
 */
public final class EmbeddingGradients implements InputGradients {
    private final Model model;
    private final Workspace ws;
    private final double[] inputs;
    private double[] losses;
    private long forwardNanos;
    private long backwardNanos;

    /** Runs {@code tokens} once to read its input embeddings; {@code ws} must fit the batch; the caller owns it. */
    public EmbeddingGradients(Model model, Workspace ws, Batch.Tokens tokens) {
        this.model = model;
        this.ws = ws;
        model.forward(ws, tokens);
        this.inputs = read(model.backend(), ws.inputEmbeddings());
    }

    @Override
    public int batch() {
        return ws.batch();
    }

    @Override
    public int dimension() {
        return inputs.length / ws.batch();
    }

    @Override
    public double[] inputs() {
        return inputs.clone();
    }

    @Override
    public double[] gradient(double[] x) {
        long t0 = System.nanoTime();
        Backend backend = model.backend();
        Tensor embeddings = ws.inputEmbeddings();
        try (Arena host = Arena.ofConfined()) {
            backend.copy(embeddings, Tensor.of(host, embeddings.dtype(), x, embeddings.dim(0), embeddings.dim(1)));
        }
        model.forwardFromEmbeddings(ws);
        double[] positions = read(backend, ws.losses());
        int time = ws.time();
        losses = new double[ws.batch()];
        for (int i = 0; i < positions.length; i++) {
            losses[i / time] += positions[i];             // 0 at positions that are not scored
        }
        long t1 = System.nanoTime();
        model.backward(ws, null, 1.0);
        double[] gradient = read(backend, ws.inputEmbeddingGradient());
        forwardNanos += t1 - t0;
        backwardNanos += System.nanoTime() - t1;
        return gradient;
    }

    @Override
    public long forwardNanos() {
        return forwardNanos;
    }

    @Override
    public long backwardNanos() {
        return backwardNanos;
    }

    @Override
    public double[] losses() {
        return losses;
    }

    /** {@code t} as doubles, through a host copy (the backend's tensors may live on a device). */
    private static double[] read(Backend backend, Tensor t) {
        try (Arena host = Arena.ofConfined()) {
            Tensor copy = Tensor.of(host, t.dtype(), new double[(int) t.size()], t.shape());
            backend.copy(copy, t);
            return copy.toDoubleArray();
        }
    }
}
