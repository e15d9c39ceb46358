package dev.curvature.kfac.probe;

import dev.curvature.engine.Tensor;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.Workspace;

import java.util.ArrayList;
import java.util.List;

/**
 * The reference: the full Hessian of the mean loss on a batch w.r.t. every parameter, built column by column from
 * the engine's gradients, column i = (g(θ + h e_i) − g(θ − h e_i)) / 2h with an absolute step h, then symmetrized
 * (H + Hᵀ)/2. Independent of the code under test: it sets single elements through {@link Tensor#set} and reads
 * gradients with {@link Tensor#toDoubleArray}, never through {@link ParameterVector}.
 */
final class ExactHessian {
    private ExactHessian() {
    }

    /** H (N × N, row-major) over all parameters in checkpoint order. */
    static double[] of(Model model, int batch, int time, int[] ids, int[] targets, double h) {
        ParameterSet weights = model.parameters();
        int n = Math.toIntExact(weights.count());
        double[] hessian = new double[n * n];
        Batch.Tokens tokens = new Batch.Tokens(ids, targets);
        try (Workspace ws = model.workspace(batch, time); ParameterSet grads = model.allocateGradients()) {
            int column = 0;
            for (String name : weights.names()) {
                Tensor t = weights.get(name);
                long[] index = new long[t.rank()];
                for (long e = 0; e < t.size(); e++, column++) {
                    long rest = e;
                    for (int d = t.rank() - 1; d >= 0; d--) {
                        index[d] = rest % t.dim(d);
                        rest /= t.dim(d);
                    }
                    double original = t.get(index);
                    t.set(original + h, index);
                    double[] plus = gradient(model, ws, tokens, grads);
                    t.set(original - h, index);
                    double[] minus = gradient(model, ws, tokens, grads);
                    t.set(original, index);
                    for (int r = 0; r < n; r++) {
                        hessian[r * n + column] = (plus[r] - minus[r]) / (2 * h);
                    }
                }
            }
        }
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                double s = 0.5 * (hessian[i * n + j] + hessian[j * n + i]);
                hessian[i * n + j] = s;
                hessian[j * n + i] = s;
            }
        }
        return hessian;
    }

    /** The gradient of the mean loss over all parameters, in checkpoint order. */
    static double[] gradient(Model model, int batch, int time, int[] ids, int[] targets) {
        try (Workspace ws = model.workspace(batch, time); ParameterSet grads = model.allocateGradients()) {
            return gradient(model, ws, new Batch.Tokens(ids, targets), grads);
        }
    }

    private static double[] gradient(Model model, Workspace ws, Batch.Tokens tokens, ParameterSet grads) {
        model.forward(ws, tokens);
        grads.zero(model.backend());
        model.backward(ws, grads);
        List<double[]> parts = new ArrayList<>();
        int n = 0;
        for (Tensor g : grads.all().values()) {
            double[] v = g.toDoubleArray();
            parts.add(v);
            n += v.length;
        }
        double[] out = new double[n];
        int at = 0;
        for (double[] v : parts) {
            System.arraycopy(v, 0, out, at, v.length);
            at += v.length;
        }
        return out;
    }

    /** H·v in double, row by row. */
    static double[] times(double[] h, double[] v) {
        int n = v.length;
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < n; j++) {
                s += h[i * n + j] * v[j];
            }
            out[i] = s;
        }
        return out;
    }
}
