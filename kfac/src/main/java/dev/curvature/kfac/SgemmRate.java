package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.engine.Transpose;
import dev.curvature.transformer.model.LinearLayer;
import dev.curvature.transformer.model.ModelConfig;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The machine's float32 GEMM rate at the product shapes a decoder step runs, measured with the backend's own GEMM:
 * the yardstick a step's GFLOP/s is compared with (a share of it, rather than a figure measured somewhere else).
 *
 * <p>The shapes are the forward products as the model calls them, y (N, d_out) = x (N, d_in) · Wᵀ with W
 * (d_out, d_in) row-major: one per distinct (d_in, d_out) of the linear layers, and the LM head (N, V, C). The
 * combined rate weighs each shape by the flops a step spends on it: Σ flops / Σ (flops / rate), i.e. the rate the
 * step's products would run at if each ran as fast as it does alone.
 *
 * @param shapes         each measured shape and its rate
 * @param gflopPerSecond the flop-weighted combination
 */
public record SgemmRate(List<Shape> shapes, double gflopPerSecond) {

    /**
     * One product shape.
     *
     * @param role           which layers use it ("mlp_in", "lm head", ...)
     * @param m              rows of the output (N = B·T)
     * @param n              columns of the output (d_out)
     * @param k              the inner dimension (d_in)
     * @param perStep        calls of this shape in one forward pass
     * @param gflopPerSecond measured rate
     */
    public record Shape(String role, int m, int n, int k, int perStep, double gflopPerSecond) {
        double flops() {
            return 2.0 * m * n * (double) k;
        }
    }

    /** The forward product shapes of {@code config} at {@code rows} = B·T rows (rates not yet measured: 0). */
    public static List<Shape> stepShapes(ModelConfig config, int rows) {
        Map<String, Shape> byShape = new LinkedHashMap<>();
        for (LinearLayer layer : config.linearLayers()) {
            String key = layer.dIn() + "x" + layer.dOut();
            Shape known = byShape.get(key);
            String role = layer.role().name().toLowerCase(Locale.ROOT);
            byShape.put(key, known == null ? new Shape(role, rows, layer.dOut(), layer.dIn(), 1, 0)
                    : new Shape(known.role().contains(role) ? known.role() : known.role() + "+" + role, rows,
                    layer.dOut(), layer.dIn(), known.perStep() + 1, 0));
        }
        List<Shape> shapes = new ArrayList<>(byShape.values());
        shapes.add(new Shape("lm head", rows, config.vocabSize(), config.hiddenSize(), 1, 0));
        return shapes;
    }

    /** Times {@code repeats} calls of each shape (after one untimed call) and combines the rates. */
    public static SgemmRate measure(Backend backend, List<Shape> shapes, int repeats) {
        if (repeats < 1) {
            throw new IllegalArgumentException("repeats must be >= 1, got " + repeats);
        }
        List<Shape> measured = new ArrayList<>();
        double flops = 0;
        double seconds = 0;
        for (Shape s : shapes) {
            try (Arena arena = Arena.ofShared()) {
                Tensor x = backend.allocate(arena, DType.F32, s.m(), s.k());
                Tensor w = backend.allocate(arena, DType.F32, s.n(), s.k());
                Tensor y = backend.allocate(arena, DType.F32, s.m(), s.n());
                backend.fill(x, 0.5);      // the rate does not depend on the values; finite ones, no denormals
                backend.fill(w, 0.25);
                backend.gemm(y, x, Transpose.NONE, w, Transpose.TRANSPOSED, 1.0, 0.0);
                long start = System.nanoTime();
                for (int r = 0; r < repeats; r++) {
                    backend.gemm(y, x, Transpose.NONE, w, Transpose.TRANSPOSED, 1.0, 0.0);
                }
                double perCall = (System.nanoTime() - start) / 1e9 / repeats;
                double rate = s.flops() / perCall / 1e9;
                measured.add(new Shape(s.role(), s.m(), s.n(), s.k(), s.perStep(), rate));
                flops += s.perStep() * s.flops();
                seconds += s.perStep() * s.flops() / (rate * 1e9);
            }
        }
        return new SgemmRate(List.copyOf(measured), flops / seconds / 1e9);
    }
}
