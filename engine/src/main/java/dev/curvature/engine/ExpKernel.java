package dev.curvature.engine;

import java.util.Locale;

/**
 * x[i] ← exp(x[i]) over a range of a double array: the one exponential every CPU kernel uses (GELU's tanh,
 * softmax, cross-entropy, sigmoid).
 *
 * <p>One algorithm, written twice with the same IEEE operations in the same order, so both give the same bits:
 * <ul>
 *   <li><b>vector</b> ({@link VectorExp}): Vector API lanes, several times faster than a scalar loop because C2
 *       never vectorizes a loop that calls a math function. Needs the incubator module, i.e.
 *       {@code java --add-modules jdk.incubator.vector} (bin/curvature passes it), and a CPU whose preferred
 *       double vector has at least 4 lanes (AVX2 or wider);</li>
 *   <li><b>scalar</b> ({@link #exp(double)}): element by element, everywhere else.</li>
 * </ul>
 * The algorithm: n = round(x·log₂e), r = x − n·ln2 in two Cody–Waite parts (|r| ≤ ln2/2), e^r by a degree-11
 * polynomial in Horner form (a Chebyshev fit, 1.7e-17 relative with its float64 coefficients:
 * engine/src/test/fixtures/exp/exp_coefficients.py prints them), and the result p · 2^⌊n/2⌋ · 2^(n−⌊n/2⌋) — two
 * exact power-of-two scalings, so a subnormal result is rounded once. Results are within 1 ulp of StrictMath (the
 * test checks), with exp(x) = ∞ above 709.78… and 0 below −745.13… as fdlibm has it; NaN stays NaN.
 *
 * <p>Why not the Vector API's own lane-wise EXP: the JVM computes it with different code before and after C2
 * compiles the caller (Math.exp lane by lane when interpreted, an SVML stub when compiled), and the two differ in
 * the last bit for ~5 % of inputs, so a run's results depended on when the JIT finished (measured: 185 of 4,096
 * inputs). Nor Math.exp for the scalar path: it would differ from the vector one. Additions, multiplications, FMAs,
 * conversions and bit shifts are exactly specified, interpreted or compiled: this exponential gives the same bits
 * in every run, on either path. {@code -Dcurvature.vector=off} forces the scalar path (slower, same results);
 * {@code =on} makes the first kernel call fail, naming why, where the vector one is unavailable.
 */
final class ExpKernel {
    /** The implementation contract: x[i] ← exp(x[i]) for from ≤ i < from + length. */
    @FunctionalInterface
    interface Impl {
        void exp(double[] x, int from, int length);
    }

    // the algorithm's constants, before CHOICE: choosing the vector form initializes VectorExp, which reads them
    static final double LOG2E = 1.4426950408889634;
    /** 1.5·2⁵²: t = x·log₂e + SHIFTER rounds x·log₂e to an integer (ties to even), exact for |x·log₂e| < 2⁵¹. */
    static final double SHIFTER = 0x1.8p52;
    /** ln 2 = LN2_HI + LN2_LO; LN2_HI has 32 trailing zero bits, so n·LN2_HI is exact for |n| < 2²⁰ (fdlibm's split). */
    static final double LN2_HI = Double.longBitsToDouble(0x3fe62e42fee00000L);
    static final double LN2_LO = Double.longBitsToDouble(0x3dea39ef35793c76L);
    /** Above this exp overflows to ∞ and below UNDERFLOW it rounds to 0 (fdlibm's thresholds). */
    static final double OVERFLOW = 7.09782712893383973096e+02;
    static final double UNDERFLOW = -7.45133219101941108420e+02;
    /** c0 … c11 of the polynomial p(r) ≈ e^r on [−ln2/2, ln2/2] (exp_coefficients.py). */
    static final double[] POLYNOMIAL = {1.0, 1.0, 0.5000000000000019, 0.1666666666666668, 0.0416666666664881,
        0.008333333333319601, 0.0013888888952314775, 0.00019841269890047113, 2.4801485482328494e-05,
        2.755724091857897e-06, 2.763263963904103e-07, 2.5110037605963777e-08};

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
            // narrower vectors (or none: the API then runs a slow Java fallback) lose to the scalar loop
            why[0] = "the preferred double vector has " + lanes + " lane(s), fewer than 4";
            return null;
        }
        return VectorExp::exp;
    }

    private static Choice choose(String setting) {
        String mode = setting.trim().toLowerCase(Locale.ROOT);
        if (mode.equals("off")) {
            return new Choice(SCALAR, "scalar (-Dcurvature.vector=off)");
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
        return new Choice(SCALAR, "scalar: " + why[0]);
    }

    private static void scalarExp(double[] x, int from, int length) {
        for (int i = from; i < from + length; i++) {
            x[i] = exp(x[i]);
        }
    }

    /** exp(x), the scalar form of the algorithm above. */
    static double exp(double x) {
        if (x > OVERFLOW) {
            return Double.POSITIVE_INFINITY;
        }
        if (x < UNDERFLOW) {
            return 0.0;
        }
        double n = Math.fma(x, LOG2E, SHIFTER) - SHIFTER;        // NaN stays NaN through every step
        double r = Math.fma(n, -LN2_LO, Math.fma(n, -LN2_HI, x));
        double p = POLYNOMIAL[POLYNOMIAL.length - 1];
        for (int k = POLYNOMIAL.length - 2; k >= 0; k--) {
            p = Math.fma(p, r, POLYNOMIAL[k]);
        }
        long exponent = (long) n;
        long half = exponent >> 1;
        return p * powerOfTwo(half) * powerOfTwo(exponent - half);
    }

    /** 2^k for −1022 ≤ k ≤ 1023, from its bits. */
    private static double powerOfTwo(long k) {
        return Double.longBitsToDouble((k + 1023) << 52);
    }
}
