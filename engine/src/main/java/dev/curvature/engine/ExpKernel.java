package dev.curvature.engine;

import java.util.Locale;

/**
 * x[i] ← exp(x[i]) over a range of a double array: the one exponential every CPU kernel uses (GELU's tanh,
 * softmax, cross-entropy, sigmoid).
 *
 * <p>Two implementations with the same contract, chosen once per process:
 * <ul>
 *   <li><b>vector</b>: the Vector API's lane-wise EXP ({@link VectorExp}), several times faster than a scalar
 *       loop because C2 never vectorizes a loop that calls {@link Math#exp}. Needs the incubator module, i.e.
 *       {@code java --add-modules jdk.incubator.vector} (bin/curvature passes it), and a CPU whose preferred
 *       double vector has at least 4 lanes (AVX2 or wider);</li>
 *   <li><b>scalar</b>: {@link Math#exp} element by element, everywhere else.</li>
 * </ul>
 * Both are within 1 ulp of the exact exponential (the test checks each against StrictMath, and the special values
 * ±∞, NaN, overflow to ∞ and underflow to 0); they may differ from each other in the last bit of a float64, which
 * rounding to float32 almost never shows. {@code -Dcurvature.vector=off} forces the scalar one (an audit run that
 * wants the exact bits of {@link Math#exp}); {@code =on} makes the first kernel call fail, naming why, where the
 * vector one is unavailable.
 */
final class ExpKernel {
    /** The implementation contract: x[i] ← exp(x[i]) for from ≤ i < from + length. */
    @FunctionalInterface
    interface Impl {
        void exp(double[] x, int from, int length);
    }

    static final Impl SCALAR = ExpKernel::scalarExp;

    private static final Choice CHOICE = choose(System.getProperty("curvature.vector", "auto"));

    private record Choice(Impl impl, String description) { }

    private ExpKernel() {
    }

    /** x[i] ← exp(x[i]) for from ≤ i < from + length, with this process's implementation. */
    static void exp(double[] x, int from, int length) {
        CHOICE.impl().exp(x, from, length);
    }

    /** Which implementation this process uses, and how to get the other one (for bench and env reports). */
    static String description() {
        return CHOICE.description();
    }

    /** The vector implementation when this JVM can run it fast, else null with the reason in {@code why[0]}. */
    static Impl vectorOrNull(String[] why) {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            why[0] = "jdk.incubator.vector is not loaded (start java with --add-modules jdk.incubator.vector)";
            return null;
        }
        int lanes = VectorExp.lanes();
        if (lanes < 4) {
            // narrower vectors (or none: the API then runs a slow Java fallback) lose to Math.exp's intrinsic
            why[0] = "the preferred double vector has " + lanes + " lane(s), fewer than 4";
            return null;
        }
        return VectorExp::exp;
    }

    private static Choice choose(String setting) {
        String mode = setting.trim().toLowerCase(Locale.ROOT);
        if (mode.equals("off")) {
            return new Choice(SCALAR, "scalar Math.exp (-Dcurvature.vector=off)");
        }
        if (!mode.equals("auto") && !mode.equals("on")) {
            throw new IllegalArgumentException("-Dcurvature.vector=" + setting + ": expected auto, on or off");
        }
        String[] why = new String[1];
        Impl vector = vectorOrNull(why);
        if (vector != null) {
            return new Choice(vector, "Vector API, " + VectorExp.lanes() + " double lanes");
        }
        if (mode.equals("on")) {
            throw new IllegalStateException("-Dcurvature.vector=on, but the vector kernels cannot run: " + why[0]);
        }
        return new Choice(SCALAR, "scalar Math.exp: " + why[0]);
    }

    private static void scalarExp(double[] x, int from, int length) {
        for (int i = from; i < from + length; i++) {
            x[i] = Math.exp(x[i]);
        }
    }
}
