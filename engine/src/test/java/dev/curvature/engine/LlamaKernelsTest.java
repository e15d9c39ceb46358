package dev.curvature.engine;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.Random;
import java.util.function.DoubleSupplier;

import static dev.curvature.engine.NumericAssertions.assertRelativeError;
import static dev.curvature.engine.NumericAssertions.finiteDifferences;
import static dev.curvature.engine.NumericAssertions.randomValues;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Llama / OLMo-2 kernels (RMSNorm, rotary embedding, SwiGLU): forwards and backwards against naive double loops
 * written here from the HF formulas, on shapes above the threading threshold in a shared arena; backwards also
 * against central finite differences in float64 of L = Σ dy ⊙ forward(x) (h = 1e-6, relative ≤ 1e-7).
 * Tolerances: F64 1e-13 relative; F32 1e-6 (one rounding of a double result, plus rounded saved statistics).
 */
class LlamaKernelsTest {
    static final CpuBackend backend = SharedCpuBackend.get();
    static final DType[] COMPUTE = {DType.F32, DType.F64};

    static double tolerance(DType dtype) {
        return dtype == DType.F64 ? 1e-13 : 1e-6;
    }

    // ---- RMSNorm ---------------------------------------------------------------------------------------------

    /** HF LlamaRMSNorm in double: x · rsqrt(mean(x²) + eps) · weight, per row; rstd into {@code rstd}. */
    static double[] naiveRmsNorm(double[] x, double[] w, int n, int c, double eps, double[] rstd) {
        double[] y = new double[n * c];
        for (int r = 0; r < n; r++) {
            double variance = 0;
            for (int i = 0; i < c; i++) {
                variance += x[r * c + i] * x[r * c + i] / c;
            }
            rstd[r] = 1 / Math.sqrt(variance + eps);
            for (int i = 0; i < c; i++) {
                y[r * c + i] = w[i] * (x[r * c + i] * rstd[r]);
            }
        }
        return y;
    }

    @Test
    void rmsNormMatchesNaiveLoop() {
        int n = 300, c = 250;
        double eps = 1e-6;
        Random random = new Random(11);
        for (DType dtype : COMPUTE) {
            try (Arena arena = Arena.ofShared()) {
                Tensor x = Tensor.of(arena, dtype, randomValues(random, n * c), n, c);
                Tensor w = Tensor.of(arena, dtype, randomValues(random, c), c);
                Tensor y = Tensor.allocate(arena, dtype, n, c);
                Tensor rstd = Tensor.allocate(arena, dtype, n);
                backend.rmsNorm(y, rstd, x, w, eps);
                double[] expectedRstd = new double[n];
                double[] expected = naiveRmsNorm(x.toDoubleArray(), w.toDoubleArray(), n, c, eps, expectedRstd);
                assertRelativeError(expected, y.toDoubleArray(), tolerance(dtype), "rmsNorm y " + dtype);
                assertRelativeError(expectedRstd, rstd.toDoubleArray(), tolerance(dtype), "rmsNorm rstd " + dtype);
            }
        }
    }

    @Test
    void rmsNormInPlaceEqualsOutOfPlace() {
        int n = 40, c = 64;
        Random random = new Random(12);
        try (Arena arena = Arena.ofShared()) {
            Tensor x = Tensor.of(arena, DType.F32, randomValues(random, n * c), n, c);
            Tensor w = Tensor.of(arena, DType.F32, randomValues(random, c), c);
            Tensor y = Tensor.allocate(arena, DType.F32, n, c);
            Tensor rstd = Tensor.allocate(arena, DType.F32, n);
            backend.rmsNorm(y, rstd, x, w, 1e-5);
            backend.rmsNorm(x, rstd, x, w, 1e-5);
            assertRelativeError(y.toDoubleArray(), x.toDoubleArray(), 0, "y = x");
        }
    }

    @Test
    void rmsNormBackwardMatchesNaiveLoopAndAccumulates() {
        // reference: the closed form dx = s·(w⊙dy) − s³/C · x · Σ(w⊙dy⊙x), dw = Σ_rows dy ⊙ x · s, s from x in double
        int n = 300, c = 250;
        double eps = 1e-5;
        Random random = new Random(13);
        for (DType dtype : COMPUTE) {
            try (Arena arena = Arena.ofShared()) {
                Tensor x = Tensor.of(arena, dtype, randomValues(random, n * c), n, c);
                Tensor w = Tensor.of(arena, dtype, randomValues(random, c), c);
                Tensor dy = Tensor.of(arena, dtype, randomValues(random, n * c), n, c);
                Tensor dx = Tensor.of(arena, dtype, randomValues(random, n * c), n, c);   // backward accumulates
                Tensor dw = Tensor.of(arena, dtype, randomValues(random, c), c);
                double[] expectedDx = dx.toDoubleArray();
                double[] expectedDw = dw.toDoubleArray();
                Tensor y = Tensor.allocate(arena, dtype, n, c);
                Tensor rstd = Tensor.allocate(arena, dtype, n);
                backend.rmsNorm(y, rstd, x, w, eps);
                backend.rmsNormBackward(dx, dw, dy, x, w, rstd);

                double[] xv = x.toDoubleArray();
                double[] wv = w.toDoubleArray();
                double[] gv = dy.toDoubleArray();
                for (int r = 0; r < n; r++) {
                    double variance = 0;
                    for (int i = 0; i < c; i++) {
                        variance += xv[r * c + i] * xv[r * c + i] / c;
                    }
                    double s = 1 / Math.sqrt(variance + eps);
                    double inner = 0;
                    for (int i = 0; i < c; i++) {
                        inner += wv[i] * gv[r * c + i] * xv[r * c + i];
                    }
                    for (int i = 0; i < c; i++) {
                        expectedDx[r * c + i] += s * wv[i] * gv[r * c + i] - s * s * s / c * xv[r * c + i] * inner;
                        expectedDw[i] += gv[r * c + i] * xv[r * c + i] * s;
                    }
                }
                assertRelativeError(expectedDx, dx.toDoubleArray(), tolerance(dtype), "rmsNorm dx " + dtype);
                assertRelativeError(expectedDw, dw.toDoubleArray(), tolerance(dtype), "rmsNorm dWeight " + dtype);
            }
        }
    }

    @Test
    void rmsNormBackwardMatchesFiniteDifferences() {
        int n = 6, c = 10;
        double eps = 1e-5;
        Random random = new Random(14);
        try (Arena arena = Arena.ofShared()) {
            Tensor x = Tensor.of(arena, DType.F64, randomValues(random, n * c), n, c);
            Tensor w = Tensor.of(arena, DType.F64, randomValues(random, c), c);
            Tensor upstream = Tensor.of(arena, DType.F64, randomValues(random, n * c), n, c);
            Tensor y = Tensor.allocate(arena, DType.F64, n, c);
            Tensor rstd = Tensor.allocate(arena, DType.F64, n);
            DoubleSupplier loss = () -> {
                backend.rmsNorm(y, rstd, x, w, eps);
                return backend.dot(y, upstream);
            };
            double[] fx = finiteDifferences(x, loss, 1e-6);
            double[] fw = finiteDifferences(w, loss, 1e-6);
            loss.getAsDouble();      // rstd of the unperturbed x
            Tensor dx = Tensor.allocate(arena, DType.F64, n, c);
            Tensor dw = Tensor.allocate(arena, DType.F64, c);
            backend.fill(dx, 0.5);   // backward accumulates: start from a known value
            backend.fill(dw, -0.25);
            backend.rmsNormBackward(dx, dw, upstream, x, w, rstd);
            for (int i = 0; i < fx.length; i++) {
                fx[i] += 0.5;
            }
            for (int i = 0; i < fw.length; i++) {
                fw[i] -= 0.25;
            }
            assertRelativeError(fx, dx.toDoubleArray(), 1e-7, "dx");
            assertRelativeError(fw, dw.toDoubleArray(), 1e-7, "dWeight");
        }
    }

    @Test
    void rmsNormRejectsMismatchedShapesNamingTheOpAndTensor() {
        try (Arena arena = Arena.ofShared()) {
            Tensor x = Tensor.allocate(arena, DType.F32, 4, 8).named("h.0.input_layernorm.x");
            Tensor y = Tensor.allocate(arena, DType.F32, 4, 8);
            Tensor rstd = Tensor.allocate(arena, DType.F32, 4);
            Tensor shortWeight = Tensor.allocate(arena, DType.F32, 7).named("input_layernorm.weight");
            var e = assertThrows(IllegalArgumentException.class, () -> backend.rmsNorm(y, rstd, x, shortWeight, 1e-6));
            assertTrue(e.getMessage().startsWith("rmsNorm:") && e.getMessage().contains("'input_layernorm.weight'"),
                    e.getMessage());
            Tensor wrongDy = Tensor.allocate(arena, DType.F32, 4, 9).named("dy");
            var b = assertThrows(IllegalArgumentException.class, () -> backend.rmsNormBackward(
                    Tensor.allocate(arena, DType.F32, 4, 8), Tensor.allocate(arena, DType.F32, 8), wrongDy, x,
                    Tensor.allocate(arena, DType.F32, 8), rstd));
            assertTrue(b.getMessage().startsWith("rmsNormBackward:") && b.getMessage().contains("'dy'"),
                    b.getMessage());
        }
    }

    // ---- rotary position embedding ------------------------------------------------------------------------------

    /** HF-style tables: cos/sin[p][i] of p · base^(−2i/d), (P, d/2). */
    static Tensor[] ropeTables(Arena arena, DType dtype, int positions, int headDim) {
        int half = headDim / 2;
        double[] cos = new double[positions * half];
        double[] sin = new double[positions * half];
        for (int p = 0; p < positions; p++) {
            for (int i = 0; i < half; i++) {
                double angle = p * Math.pow(10000.0, -2.0 * i / headDim);
                cos[p * half + i] = Math.cos(angle);
                sin[p * half + i] = Math.sin(angle);
            }
        }
        return new Tensor[]{Tensor.of(arena, dtype, cos, positions, half),
                Tensor.of(arena, dtype, sin, positions, half)};
    }

    /**
     * The HF formula built literally per head: out = x * cat(cos, cos) + rotate_half(x) * cat(sin, sin) with
     * rotate_half(x) = cat(−x2, x1); {@code inverse} uses −sin.
     */
    static double[] naiveRotary(double[] x, double[] cos, double[] sin, int n, int width, int d, int time, int offset,
                                boolean inverse) {
        int half = d / 2;
        double[] out = new double[n * width];
        for (int r = 0; r < n; r++) {
            int p = offset + r % time;
            double[] cosFull = new double[d];
            double[] sinFull = new double[d];
            for (int i = 0; i < d; i++) {
                cosFull[i] = cos[p * half + i % half];
                sinFull[i] = (inverse ? -1 : 1) * sin[p * half + i % half];
            }
            for (int h = 0; h < width / d; h++) {
                double[] head = new double[d];
                System.arraycopy(x, r * width + h * d, head, 0, d);
                double[] rotated = new double[d];
                for (int i = 0; i < half; i++) {
                    rotated[i] = -head[half + i];
                    rotated[half + i] = head[i];
                }
                for (int i = 0; i < d; i++) {
                    out[r * width + h * d + i] = head[i] * cosFull[i] + rotated[i] * sinFull[i];
                }
            }
        }
        return out;
    }

    @Test
    void rotaryMatchesTheHfRotateHalfFormulaForwardAndInverse() {
        int batch = 4, time = 64, heads = 12, d = 32, offset = 5, positions = 80;
        int n = batch * time, width = heads * d;
        Random random = new Random(21);
        for (DType dtype : COMPUTE) {
            try (Arena arena = Arena.ofShared()) {
                Tensor[] tables = ropeTables(arena, dtype, positions, d);
                Tensor x = Tensor.of(arena, dtype, randomValues(random, n * width), batch, time, width);
                Tensor y = Tensor.allocate(arena, dtype, batch, time, width);
                for (boolean inverse : new boolean[]{false, true}) {
                    backend.rotary(y, x, tables[0], tables[1], d, time, offset, inverse);
                    double[] expected = naiveRotary(x.toDoubleArray(), tables[0].toDoubleArray(),
                            tables[1].toDoubleArray(), n, width, d, time, offset, inverse);
                    assertRelativeError(expected, y.toDoubleArray(), tolerance(dtype),
                            "rotary " + dtype + (inverse ? " inverse" : ""));
                }
            }
        }
    }

    @Test
    void rotaryInPlaceEqualsOutOfPlaceAndInverseUndoesIt() {
        int time = 9, d = 8, width = 3 * d, n = 2 * time;
        Random random = new Random(22);
        try (Arena arena = Arena.ofShared()) {
            Tensor[] tables = ropeTables(arena, DType.F64, 16, d);
            double[] xv = randomValues(random, n * width);
            Tensor x = Tensor.of(arena, DType.F64, xv, n, width);
            Tensor y = Tensor.allocate(arena, DType.F64, n, width);
            backend.rotary(y, x, tables[0], tables[1], d, time, 3, false);
            backend.rotary(x, x, tables[0], tables[1], d, time, 3, false);
            assertRelativeError(y.toDoubleArray(), x.toDoubleArray(), 0, "in place");
            backend.rotary(x, x, tables[0], tables[1], d, time, 3, true);
            assertRelativeError(xv, x.toDoubleArray(), 1e-15, "inverse of the rotation");
        }
    }

    @Test
    void rotaryInverseMatchesFiniteDifferencesOfTheForward() {
        int time = 3, d = 6, width = 2 * d, n = 2 * time, offset = 2;
        Random random = new Random(23);
        try (Arena arena = Arena.ofShared()) {
            Tensor[] tables = ropeTables(arena, DType.F64, 8, d);
            Tensor x = Tensor.of(arena, DType.F64, randomValues(random, n * width), n, width);
            Tensor dy = Tensor.of(arena, DType.F64, randomValues(random, n * width), n, width);
            Tensor y = Tensor.allocate(arena, DType.F64, n, width);
            double[] expected = finiteDifferences(x, () -> {
                backend.rotary(y, x, tables[0], tables[1], d, time, offset, false);
                return backend.dot(y, dy);
            }, 1e-6);
            Tensor dx = Tensor.allocate(arena, DType.F64, n, width);
            backend.rotary(dx, dy, tables[0], tables[1], d, time, offset, true);
            assertRelativeError(expected, dx.toDoubleArray(), 1e-7, "rotary backward");
        }
    }

    @Test
    void rotaryRejectsBadShapesAndPositionsNamingTheOp() {
        try (Arena arena = Arena.ofShared()) {
            Tensor[] tables = ropeTables(arena, DType.F32, 10, 8);
            Tensor x = Tensor.allocate(arena, DType.F32, 12, 16).named("q");
            Tensor y = Tensor.allocate(arena, DType.F32, 12, 16);
            assertRejected("head dimension 7", () -> backend.rotary(y, x, tables[0], tables[1], 7, 6, 0, false));
            assertRejected("not a multiple of the head dimension 6",
                    () -> backend.rotary(y, x, tables[0], tables[1], 6, 6, 0, false));
            assertRejected("time 5 does not divide the 12 rows",
                    () -> backend.rotary(y, x, tables[0], tables[1], 8, 5, 0, false));
            assertRejected("positions 5..10", () -> backend.rotary(y, x, tables[0], tables[1], 8, 6, 5, false));
            Tensor[] narrow = ropeTables(arena, DType.F32, 10, 6);
            assertRejected("(P, 4)", () -> backend.rotary(y, x, narrow[0], narrow[1], 8, 6, 0, false));
            assertRejected("'q'", () -> backend.rotary(Tensor.allocate(arena, DType.F32, 12, 8), x, tables[0],
                    tables[1], 8, 6, 0, false));
        }
    }

    static void assertRejected(String fragment, Runnable call) {
        var e = assertThrows(IllegalArgumentException.class, call::run);
        assertTrue(e.getMessage().startsWith("rotary:") && e.getMessage().contains(fragment), e.getMessage());
    }

    // ---- SwiGLU ----------------------------------------------------------------------------------------------

    /** σ(z) written the textbook way (the test inputs are moderate: no overflow here). */
    static double sigma(double z) {
        return 1 / (1 + Math.exp(-z));
    }

    @Test
    void swigluForwardAndBackwardMatchNaiveLoops() {
        int n = 200, f = 500;
        Random random = new Random(31);
        for (DType dtype : COMPUTE) {
            try (Arena arena = Arena.ofShared()) {
                double[] gates = randomValues(random, n * f);
                for (int i = 0; i < gates.length; i++) {
                    gates[i] *= 8;
                }
                Tensor gate = Tensor.of(arena, dtype, gates, n, f);
                Tensor up = Tensor.of(arena, dtype, randomValues(random, n * f), n, f);
                Tensor dh = Tensor.of(arena, dtype, randomValues(random, n * f), n, f);
                Tensor h = Tensor.allocate(arena, dtype, n, f);
                Tensor dGate = Tensor.allocate(arena, dtype, n, f);
                Tensor dUp = Tensor.allocate(arena, dtype, n, f);
                backend.swiglu(h, gate, up);
                backend.swigluBackward(dGate, dUp, dh, gate, up);
                double[] g = gate.toDoubleArray();
                double[] u = up.toDoubleArray();
                double[] d = dh.toDoubleArray();
                double[] expectedH = new double[n * f];
                double[] expectedDGate = new double[n * f];
                double[] expectedDUp = new double[n * f];
                for (int i = 0; i < n * f; i++) {
                    double silu = g[i] * sigma(g[i]);
                    double dSilu = sigma(g[i]) + g[i] * sigma(g[i]) * (1 - sigma(g[i]));   // product rule
                    expectedH[i] = silu * u[i];
                    expectedDGate[i] = d[i] * u[i] * dSilu;
                    expectedDUp[i] = d[i] * silu;
                }
                assertRelativeError(expectedH, h.toDoubleArray(), tolerance(dtype), "swiglu " + dtype);
                assertRelativeError(expectedDGate, dGate.toDoubleArray(), tolerance(dtype), "dGate " + dtype);
                assertRelativeError(expectedDUp, dUp.toDoubleArray(), tolerance(dtype), "dUp " + dtype);
            }
        }
    }

    @Test
    void swigluBackwardMatchesFiniteDifferences() {
        int n = 7, f = 9;
        Random random = new Random(32);
        try (Arena arena = Arena.ofShared()) {
            double[] gates = randomValues(random, n * f);
            for (int i = 0; i < gates.length; i++) {
                gates[i] *= 6;
            }
            Tensor gate = Tensor.of(arena, DType.F64, gates, n, f);
            Tensor up = Tensor.of(arena, DType.F64, randomValues(random, n * f), n, f);
            Tensor dh = Tensor.of(arena, DType.F64, randomValues(random, n * f), n, f);
            Tensor h = Tensor.allocate(arena, DType.F64, n, f);
            DoubleSupplier loss = () -> {
                backend.swiglu(h, gate, up);
                return backend.dot(h, dh);
            };
            Tensor dGate = Tensor.allocate(arena, DType.F64, n, f);
            Tensor dUp = Tensor.allocate(arena, DType.F64, n, f);
            backend.swigluBackward(dGate, dUp, dh, gate, up);
            assertRelativeError(finiteDifferences(gate, loss, 1e-6), dGate.toDoubleArray(), 1e-7, "dGate");
            assertRelativeError(finiteDifferences(up, loss, 1e-6), dUp.toDoubleArray(), 1e-7, "dUp");
        }
    }

    @Test
    void swigluStaysFiniteAtLargeGates() {
        // limits: σ(1000) = 1, σ(−1000) = 0 in double; silu → g and 0; dGate → dh·up and 0
        try (Arena arena = Arena.ofShared()) {
            double[] g = {1000, -1000, 745, -745, 40, -40};
            Tensor gate = Tensor.of(arena, DType.F64, g, 6);
            Tensor up = Tensor.of(arena, DType.F64, new double[]{2, 2, 2, 2, 2, 2}, 6);
            Tensor dh = Tensor.of(arena, DType.F64, new double[]{3, 3, 3, 3, 3, 3}, 6);
            Tensor h = Tensor.allocate(arena, DType.F64, 6);
            Tensor dGate = Tensor.allocate(arena, DType.F64, 6);
            Tensor dUp = Tensor.allocate(arena, DType.F64, 6);
            backend.swiglu(h, gate, up);
            backend.swigluBackward(dGate, dUp, dh, gate, up);
            for (int i = 0; i < g.length; i++) {
                assertTrue(Double.isFinite(h.get(i)) && Double.isFinite(dGate.get(i)) && Double.isFinite(dUp.get(i)),
                        "finite at g = " + g[i]);
            }
            assertEquals(2000, h.get(0), 0.0);
            assertEquals(0, h.get(1), 0.0);         // −0.0: g · σ(g) with σ(g) = 0 and g negative
            assertEquals(6, dGate.get(0), 0.0);
            assertEquals(0, dGate.get(1), 0.0);
            assertEquals(3000, dUp.get(0), 0.0);
            assertEquals(0, dUp.get(1), 0.0);
        }
    }

    @Test
    void swigluRejectsMismatchedShapesNamingTheOp() {
        try (Arena arena = Arena.ofShared()) {
            Tensor gate = Tensor.allocate(arena, DType.F32, 4, 8).named("mlp.gate_proj.out");
            Tensor up = Tensor.allocate(arena, DType.F32, 4, 9).named("mlp.up_proj.out");
            Tensor h = Tensor.allocate(arena, DType.F32, 4, 8);
            var e = assertThrows(IllegalArgumentException.class, () -> backend.swiglu(h, gate, up));
            assertTrue(e.getMessage().startsWith("swiglu:") && e.getMessage().contains("'mlp.up_proj.out'"),
                    e.getMessage());
            var b = assertThrows(IllegalArgumentException.class, () -> backend.swigluBackward(h,
                    Tensor.allocate(arena, DType.F32, 4, 8), h, gate, up));
            assertTrue(b.getMessage().startsWith("swigluBackward:") && b.getMessage().contains("'mlp.up_proj.out'"),
                    b.getMessage());
        }
    }
}
