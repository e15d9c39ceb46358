package dev.curvature.transformer.layers;

import dev.curvature.engine.Backend;
import dev.curvature.engine.Tensor;
import dev.curvature.engine.Transpose;

/** A fully connected layer y = x Wᵀ (+ b) with W (d_out, d_in) row-major, as PyTorch's nn.Linear. */
public final class Linear {
    private Linear() {
    }

    /** x (N, d_in), W (d_out, d_in), b (d_out) or null (no bias) → writes y (N, d_out). */
    public static void forward(Backend be, Tensor y, Tensor x, Tensor weight, Tensor bias) {
        be.gemm(y, x, Transpose.NONE, weight, Transpose.TRANSPOSED, 1.0, 0.0);
        if (bias != null) {
            be.addRowVector(y, bias);
        }
    }

    /**
     * dy (N, d_out) → writes dx (N, d_in) = dy W; accumulates, unless null, dWeight (d_out, d_in) += dyᵀ x and
     * dBias (d_out) += Σ dy. Needs x and W from forward.
     */
    public static void backward(Backend be, Tensor dx, Tensor dWeight, Tensor dBias, Tensor dy, Tensor x,
                                Tensor weight) {
        be.gemm(dx, dy, Transpose.NONE, weight, Transpose.NONE, 1.0, 0.0);
        if (dWeight != null) {
            be.gemm(dWeight, dy, Transpose.TRANSPOSED, x, Transpose.NONE, 1.0, 1.0);
        }
        if (dBias != null) {
            be.sumRowsInto(dBias, dy);
        }
    }
}
