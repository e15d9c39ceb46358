package dev.curvature.engine;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Both forms of ExpKernel's exponential against StrictMath.exp (fdlibm, within 1 ulp of exact), element by element,
 * and against each other: the same bits, before and after the JIT compiles the vector loop.
 */
class ExpKernelTest {
    /** Inputs over the whole finite range, the kernels' working range, and the edges of overflow and underflow. */
    private static double[] inputs() {
        SplittableRandom random = new SplittableRandom(7);
        double[] x = new double[20_011];    // not a multiple of any vector length: the scalar tail runs too
        int i = 0;
        double[] special = {0.0, -0.0, 1.0, -1.0, 709.78, 709.79, 710.0, -708.39, -708.40, -740.0, -745.13, -745.14,
                -746.0, 1e-300, -1e-300, Double.MIN_VALUE, Double.MAX_VALUE, -Double.MAX_VALUE,
                Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NaN};
        for (double s : special) {
            x[i++] = s;
        }
        while (i < x.length) {
            int kind = i % 3;
            x[i++] = kind == 0 ? random.nextDouble(-750.0, 712.0)      // all of exp's range, both edges
                    : kind == 1 ? random.nextDouble(-40.0, 0.0)           // softmax / cross-entropy shifts
                    : random.nextGaussian() * 5.0;                       // GELU's 2z, sigmoid's −|z|
        }
        return x;
    }

    private static void assertWithinUlps(String name, double[] in, double[] out, double ulps) {
        for (int i = 0; i < in.length; i++) {
            double expected = StrictMath.exp(in[i]);
            if (Double.isNaN(expected) || Double.isInfinite(expected) || expected == 0.0) {
                assertEquals(expected, out[i], 0.0, name + ": exp(" + in[i] + ")");
                continue;
            }
            // one ulp of the larger of the two, so a result at a binade edge is judged fairly
            double ulp = Math.max(Math.ulp(expected), Math.ulp(out[i]));
            double error = Math.abs(out[i] - expected) / ulp;
            // subnormal results have fewer bits: judge them by the absolute spacing there (Double.MIN_VALUE)
            assertTrue(error <= ulps, name + ": exp(" + in[i] + ") = " + out[i] + ", StrictMath " + expected
                    + ", " + error + " ulp apart");
        }
    }

    @Test
    void scalarExponentialMatchesStrictMath() {
        double[] in = inputs();
        double[] out = in.clone();
        ExpKernel.SCALAR.exp(out, 0, out.length);
        assertWithinUlps("scalar", in, out, 1.0);
    }

    @Test
    void vectorExponentialMatchesStrictMathAndTouchesOnlyItsRange() {
        String[] why = new String[1];
        ExpKernel.Impl vector = ExpKernel.vectorOrNull(why);
        Assumptions.assumeTrue(vector != null, () -> "no vector exponential in this JVM: " + why[0]);
        double[] in = inputs();
        double[] out = in.clone();
        vector.exp(out, 0, out.length);
        assertWithinUlps("vector", in, out, 1.0);

        // an offset range: the elements outside it stay as they were
        double[] part = in.clone();
        vector.exp(part, 13, 1000);
        for (int i = 0; i < part.length; i++) {
            double expected = i >= 13 && i < 1013 ? out[i] : in[i];
            assertEquals(Double.doubleToRawLongBits(expected), Double.doubleToRawLongBits(part[i]), "element " + i);
        }
    }

    @Test
    void vectorAndScalarGiveTheSameBitsBeforeAndAfterTheJitCompilesThem() {
        String[] why = new String[1];
        ExpKernel.Impl vector = ExpKernel.vectorOrNull(why);
        Assumptions.assumeTrue(vector != null, () -> "no vector exponential in this JVM: " + why[0]);
        double[] in = inputs();
        double[] scalar = in.clone();
        ExpKernel.SCALAR.exp(scalar, 0, scalar.length);
        double[] cold = in.clone();
        vector.exp(cold, 0, cold.length);           // the first calls: interpreted or C1, whatever runs first
        double[] warm = new double[64];
        for (int rep = 0; rep < 40_000; rep++) {     // enough calls for C2 to compile both loops
            System.arraycopy(in, rep % (in.length - 64), warm, 0, 64);
            vector.exp(warm, 0, 64);
            ExpKernel.SCALAR.exp(warm, 0, 64);
        }
        double[] hot = in.clone();
        vector.exp(hot, 0, hot.length);
        double[] hotScalar = in.clone();
        ExpKernel.SCALAR.exp(hotScalar, 0, hotScalar.length);
        for (int i = 0; i < in.length; i++) {
            long expected = Double.doubleToRawLongBits(scalar[i]);
            assertEquals(expected, Double.doubleToRawLongBits(cold[i]), "vector, cold: exp(" + in[i] + ")");
            assertEquals(expected, Double.doubleToRawLongBits(hot[i]), "vector, compiled: exp(" + in[i] + ")");
            assertEquals(expected, Double.doubleToRawLongBits(hotScalar[i]), "scalar, compiled: exp(" + in[i] + ")");
        }
    }

    @Test
    void theProcessChoiceIsNamed() {
        assertNotNull(ExpKernel.description());
        double[] x = {0.0, 1.0, -2.5};
        ExpKernel.exp(x, 0, 3);
        assertEquals(1.0, x[0], 0.0);
        assertEquals(Math.E, x[1], 2 * Math.ulp(Math.E));
        assertEquals(StrictMath.exp(-2.5), x[2], 2 * Math.ulp(x[2]));
    }
}
