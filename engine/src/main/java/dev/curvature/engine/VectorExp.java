package dev.curvature.engine;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import static dev.curvature.engine.ExpKernel.LN2_HI;
import static dev.curvature.engine.ExpKernel.LN2_LO;
import static dev.curvature.engine.ExpKernel.LOG2E;
import static dev.curvature.engine.ExpKernel.OVERFLOW;
import static dev.curvature.engine.ExpKernel.POLYNOMIAL;
import static dev.curvature.engine.ExpKernel.SHIFTER;
import static dev.curvature.engine.ExpKernel.UNDERFLOW;

/**
 * The Vector API form of {@link ExpKernel}'s exponential: the same operations as {@link ExpKernel#exp(double)}, lane
 * by lane, so the two give the same bits. Loaded only after {@link ExpKernel} has checked that jdk.incubator.vector
 * is in the boot layer: referencing it without the module would fail with NoClassDefFoundError.
 */
final class VectorExp {
    private static final VectorSpecies<Double> SPECIES = DoubleVector.SPECIES_PREFERRED;

    private VectorExp() {
    }

    static int lanes() {
        return SPECIES.length();
    }

    /**
     * x[i] ← exp(x[i]) for from ≤ i < from + length, a vector at a time; the last vector is masked to the range
     * (lanes outside it are neither read nor written).
     *
     * <p>No branch depends on the data: a rarely taken branch compiles to an uncommon trap, and inputs that reach it
     * now and then (GELU's 2z beyond 708, a row length not a multiple of the lane count) would send the compiled loop
     * back to the interpreter — where Vector API code runs as boxed objects, ~15× slower — again and again.
     */
    static void exp(double[] x, int from, int length) {
        int end = from + length;
        // constants are broadcast where they are used (C2 hoists them): vectors kept in fields or arrays lose their
        // exact species type there, and C2 then runs the Vector API's boxed Java fallback
        for (int i = from; i < end; i += SPECIES.length()) {
            VectorMask<Double> inRange = SPECIES.indexInRange(i, end);
            DoubleVector v = DoubleVector.fromArray(SPECIES, x, i, inRange);
            DoubleVector n = v.fma(LOG2E, SHIFTER).sub(SHIFTER);
            DoubleVector r = n.fma(DoubleVector.broadcast(SPECIES, -LN2_LO),
                    n.fma(DoubleVector.broadcast(SPECIES, -LN2_HI), v));
            DoubleVector p = DoubleVector.broadcast(SPECIES, POLYNOMIAL[POLYNOMIAL.length - 1]);
            for (int k = POLYNOMIAL.length - 2; k >= 0; k--) {
                p = p.fma(r, DoubleVector.broadcast(SPECIES, POLYNOMIAL[k]));
            }
            LongVector exponent = (LongVector) n.convert(VectorOperators.D2L, 0);
            LongVector half = exponent.lanewise(VectorOperators.ASHR, 1);
            p.mul(powerOfTwo(half)).mul(powerOfTwo(exponent.sub(half)))
                    .blend(Double.POSITIVE_INFINITY, v.compare(VectorOperators.GT, OVERFLOW))
                    .blend(0.0, v.compare(VectorOperators.LT, UNDERFLOW))
                    .intoArray(x, i, inRange);
        }
    }

    /** 2^k lane-wise for −1022 ≤ k ≤ 1023, from its bits (lanes outside that range are blended away). */
    private static DoubleVector powerOfTwo(LongVector k) {
        return k.add(1023).lanewise(VectorOperators.LSHL, 52).reinterpretAsDoubles();
    }
}
