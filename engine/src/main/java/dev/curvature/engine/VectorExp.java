package dev.curvature.engine;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import static dev.curvature.engine.ExpKernel.LN2_HI;
import static dev.curvature.engine.ExpKernel.LN2_LO;
import static dev.curvature.engine.ExpKernel.LOG2E;
import static dev.curvature.engine.ExpKernel.NORMAL_RANGE;
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

    /** x[i] ← exp(x[i]) for from ≤ i < from + length: full vectors, then the scalar form on the tail. */
    static void exp(double[] x, int from, int length) {
        int end = from + length;
        int i = from;
        // constants are broadcast where they are used (C2 hoists them): vectors kept in fields or arrays lose their
        // exact species type there, and C2 then runs the Vector API's boxed Java fallback — ~10× slower
        for (int upper = from + SPECIES.loopBound(length); i < upper; i += SPECIES.length()) {
            DoubleVector v = DoubleVector.fromArray(SPECIES, x, i);
            DoubleVector n = v.fma(LOG2E, SHIFTER).sub(SHIFTER);
            DoubleVector r = n.fma(DoubleVector.broadcast(SPECIES, -LN2_LO),
                    n.fma(DoubleVector.broadcast(SPECIES, -LN2_HI), v));
            DoubleVector p = DoubleVector.broadcast(SPECIES, POLYNOMIAL[POLYNOMIAL.length - 1]);
            for (int k = POLYNOMIAL.length - 2; k >= 0; k--) {
                p = p.fma(r, DoubleVector.broadcast(SPECIES, POLYNOMIAL[k]));
            }
            LongVector exponent = (LongVector) n.convert(VectorOperators.D2L, 0);
            DoubleVector y;
            if (v.abs().compare(VectorOperators.GT, NORMAL_RANGE).anyTrue()) {
                // a lane near overflow or underflow (or ±∞): two scalings, then the limits
                LongVector half = exponent.lanewise(VectorOperators.ASHR, 1);
                y = p.mul(powerOfTwo(half)).mul(powerOfTwo(exponent.sub(half)))
                        .blend(Double.POSITIVE_INFINITY, v.compare(VectorOperators.GT, OVERFLOW))
                        .blend(0.0, v.compare(VectorOperators.LT, UNDERFLOW));
            } else {
                y = p.mul(powerOfTwo(exponent));      // every result normal: the same bits as two scalings
            }
            y.intoArray(x, i);
        }
        for (; i < end; i++) {
            x[i] = ExpKernel.exp(x[i]);
        }
    }

    /** 2^k lane-wise for −1022 ≤ k ≤ 1023, from its bits (lanes outside that range are blended away). */
    private static DoubleVector powerOfTwo(LongVector k) {
        return k.add(1023).lanewise(VectorOperators.LSHL, 52).reinterpretAsDoubles();
    }
}
