package dev.curvature.engine;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * BF16 and F16 conversions on all 65,536 bit patterns. References: the value formula
 * (−1)^s · 2^(e−bias) · (1 + m/2^M) (subnormals (−1)^s · 2^(1−bias) · m/2^M) for widening; for narrowing, a
 * brute-force nearest search over the sorted list of every finite value with ties broken to the even mantissa.
 * F16 is also checked against the JDK's own Float.floatToFloat16 / float16ToFloat.
 */
class MiniFloatTest {

    record Format(String name, MiniFloat codec, int exponentBits, int mantissaBits) {
        double formulaValue(int bits) {
            int bias = (1 << (exponentBits - 1)) - 1;
            int e = (bits >>> mantissaBits) & ((1 << exponentBits) - 1);
            int m = bits & ((1 << mantissaBits) - 1);
            double sign = (bits & 0x8000) != 0 ? -1 : 1;
            if (e == (1 << exponentBits) - 1) {
                return m == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
            }
            if (e == 0) {
                return sign * Math.pow(2, 1 - bias) * (m / Math.pow(2, mantissaBits));
            }
            return sign * Math.pow(2, e - bias) * (1 + m / Math.pow(2, mantissaBits));
        }
    }

    static final Format BF16 = new Format("bf16", MiniFloat.BF16, 8, 7);
    static final Format F16 = new Format("f16", MiniFloat.F16, 5, 10);

    @Test
    void widensEveryBf16PatternExactly() {
        widensEveryPattern(BF16);
        for (int bits = 0; bits < 65536; bits++) {
            // bf16 is the top half of a float32: the bit shift is a second independent reference
            float viaShift = Float.intBitsToFloat(bits << 16);
            double got = MiniFloat.BF16.toDouble(bits);
            assertTrue(Double.isNaN(viaShift) ? Double.isNaN(got) : got == viaShift, "bf16 0x" + Integer.toHexString(bits));
        }
    }

    @Test
    void widensEveryF16PatternExactly() {
        widensEveryPattern(F16);
        for (int bits = 0; bits < 65536; bits++) {
            float jdk = Float.float16ToFloat((short) bits);
            double got = MiniFloat.F16.toDouble(bits);
            assertTrue(Double.isNaN(jdk) ? Double.isNaN(got) : got == jdk, "f16 0x" + Integer.toHexString(bits));
        }
    }

    private static void widensEveryPattern(Format f) {
        for (int bits = 0; bits < 65536; bits++) {
            double expected = f.formulaValue(bits);
            double got = f.codec().toDouble(bits);
            if (Double.isNaN(expected)) {
                assertTrue(Double.isNaN(got), f.name() + " NaN pattern 0x" + Integer.toHexString(bits));
            } else {
                assertEquals(Double.doubleToRawLongBits(expected), Double.doubleToRawLongBits(got),
                        f.name() + " 0x" + Integer.toHexString(bits));
            }
        }
    }

    @Test
    void bf16RoundsToNearestEvenAtEveryMidpoint() {
        roundsToNearestEven(BF16);
    }

    @Test
    void f16RoundsToNearestEvenAtEveryMidpoint() {
        roundsToNearestEven(F16);
    }

    /**
     * For every pair of adjacent non-negative finite values (and their negatives): both values round-trip, the
     * exact midpoint goes to the neighbour with the even mantissa, and the doubles just below/above the midpoint
     * go to the nearer one. Beyond the largest finite value: the midpoint to 2^(emax+1) overflows to infinity.
     */
    private static void roundsToNearestEven(Format f) {
        List<Integer> positives = new ArrayList<>();
        int infinityBits = ((1 << f.exponentBits()) - 1) << f.mantissaBits();
        for (int bits = 0; bits < infinityBits; bits++) {
            positives.add(bits); // non-negative finite patterns are ordered like their values
        }
        int checked = 0;
        for (int idx = 0; idx < positives.size(); idx++) {
            int lo = positives.get(idx);
            double loValue = f.formulaValue(lo);
            for (double sign : new double[]{1, -1}) {
                int signBit = sign < 0 ? 0x8000 : 0;
                assertEquals(lo | signBit, f.codec().fromDouble(sign * loValue), f.name() + " round trip " + loValue);
                assertEquals(lo | signBit, f.codec().fromFloat((float) (sign * loValue)), f.name() + " float round trip");
                int hi;
                double hiValue;
                if (idx + 1 < positives.size()) {
                    hi = positives.get(idx + 1);
                    hiValue = f.formulaValue(hi);
                } else {
                    hi = infinityBits;   // the "next value" past the largest finite one, for the overflow rule
                    hiValue = 2 * f.formulaValue(lo - (lo & ((1 << f.mantissaBits()) - 1)));
                }
                double mid = (loValue + hiValue) / 2; // exact in double: both have ≤ 11 significant bits
                int evenNeighbour = (lo & 1) == 0 ? lo : hi;
                assertEquals(evenNeighbour | signBit, f.codec().fromDouble(sign * mid),
                        f.name() + " tie at " + sign * mid);
                assertEquals(lo | signBit, f.codec().fromDouble(sign * Math.nextDown(mid)),
                        f.name() + " below midpoint " + sign * mid);
                assertEquals(hi | signBit, f.codec().fromDouble(sign * Math.nextUp(mid)),
                        f.name() + " above midpoint " + sign * mid);
                checked++;
            }
        }
        assertEquals(2 * infinityBits, checked);
    }

    @Test
    void specialValuesKeepTheirMeaning() {
        for (Format f : new Format[]{BF16, F16}) {
            int inf = ((1 << f.exponentBits()) - 1) << f.mantissaBits();
            assertEquals(inf, f.codec().fromDouble(Double.POSITIVE_INFINITY), f.name());
            assertEquals(inf | 0x8000, f.codec().fromDouble(Double.NEGATIVE_INFINITY), f.name());
            assertEquals(0x8000, f.codec().fromDouble(-0.0), f.name() + " negative zero");
            assertEquals(0, f.codec().fromDouble(Double.MIN_VALUE), f.name() + " underflow to zero");
            assertTrue(Double.isNaN(f.codec().toDouble(f.codec().fromDouble(Double.NaN))), f.name() + " NaN");
            assertEquals(inf, f.codec().fromDouble(1e300), f.name() + " overflow");
        }
    }

    @Test
    void f16NarrowingAgreesWithJdkOnRandomFloats() {
        Random random = new Random(20261122);
        for (int i = 0; i < 2_000_000; i++) {
            float x = Float.intBitsToFloat(random.nextInt());
            if (Float.isNaN(x)) {
                continue;
            }
            assertEquals(Float.floatToFloat16(x) & 0xFFFF, MiniFloat.F16.fromFloat(x), "f16 of " + x);
        }
    }

    @Test
    void dTypeReadWriteUsesTheSameRounding() {
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            Tensor t = Tensor.allocate(arena, DType.BF16, 3);
            t.set(1.0 + 1.0 / 256, 0);          // exactly halfway between 1 and 1 + 2^-7: ties to even → 1
            t.set(1.0 + 3.0 / 256, 1);          // halfway between 1 + 2^-7 and 1 + 2^-6: ties to even → 1 + 2^-6
            t.set(-65520.0, 2);
            assertEquals(1.0, t.get(0));
            assertEquals(1.0 + 1.0 / 64, t.get(1));
            assertEquals(-65536.0, t.get(2));    // representable in bf16 (8 exponent bits)
            Tensor h = Tensor.allocate(arena, DType.F16, 1);
            h.set(-65520.0, 0);                  // f16 max is 65504; 65520 is the overflow midpoint → -inf
            assertEquals(Double.NEGATIVE_INFINITY, h.get(0));
        }
    }
}
