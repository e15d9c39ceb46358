package dev.curvature.transformer.layers;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;

import java.lang.foreign.Arena;

/**
 * Rotary position embedding in Hugging Face's rotate-half layout: within each head of size d, pair (i, i + d/2)
 * at position p is rotated by the angle p · θ_i, with θ the model's inverse frequencies (d/2). A rotation's backward
 * is the inverse rotation, so the gradient is rotated back in place.
 */
public final class RotaryEmbedding {
    private RotaryEmbedding() {
    }

    /** Writes cos, sin (P, d/2) = cos, sin of p · inverseFrequencies[i], computed in double, stored in their dtype. */
    public static void tables(Backend be, Tensor cos, Tensor sin, double[] inverseFrequencies) {
        int positions = (int) cos.dim(0);
        int half = inverseFrequencies.length;
        double[] c = new double[positions * half];
        double[] s = new double[c.length];
        for (int p = 0; p < positions; p++) {
            for (int i = 0; i < half; i++) {
                double angle = p * inverseFrequencies[i];
                c[p * half + i] = Math.cos(angle);
                s[p * half + i] = Math.sin(angle);
            }
        }
        try (Arena host = Arena.ofConfined()) {
            be.copy(cos, Tensor.of(host, DType.F64, c, positions, half));
            be.copy(sin, Tensor.of(host, DType.F64, s, positions, half));
        }
    }

    /** x (N, H·d), the rows of a (B, T) chunk at positions from .. from + T: rotated in place. */
    public static void forward(Backend be, Tensor x, Tensor cos, Tensor sin, int headDim, int time, int from) {
        be.rotary(x, x, cos, sin, headDim, time, from, false);
    }

    /** dx (N, H·d) holds ∂/∂(rotated x) on entry and ∂/∂x on return (the inverse rotation), chunk at position 0. */
    public static void backward(Backend be, Tensor dx, Tensor cos, Tensor sin, int headDim, int time) {
        be.rotary(dx, dx, cos, sin, headDim, time, 0, true);
    }
}
