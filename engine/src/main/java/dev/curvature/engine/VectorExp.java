package dev.curvature.engine;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API exponential behind {@link ExpKernel}. Loaded only after {@link ExpKernel} has checked that
 * jdk.incubator.vector is in the boot layer: referencing it without the module would fail with NoClassDefFoundError.
 */
final class VectorExp {
    private static final VectorSpecies<Double> SPECIES = DoubleVector.SPECIES_PREFERRED;

    private VectorExp() {
    }

    static int lanes() {
        return SPECIES.length();
    }

    /** x[i] ← exp(x[i]) for from ≤ i < from + length: full vectors, then Math.exp on the tail. */
    static void exp(double[] x, int from, int length) {
        int end = from + length;
        int i = from;
        for (int upper = from + SPECIES.loopBound(length); i < upper; i += SPECIES.length()) {
            DoubleVector.fromArray(SPECIES, x, i).lanewise(VectorOperators.EXP).intoArray(x, i);
        }
        for (; i < end; i++) {
            x[i] = Math.exp(x[i]);
        }
    }
}
