package dev.curvature.engine;

/**
 * Conversions between binary64/binary32 and the 16-bit floating-point formats bfloat16 (1-8-7) and IEEE
 * binary16 (1-5-10), as one mechanism parameterised by exponent and mantissa widths.
 *
 * <p>Narrowing rounds to nearest, ties to even, with gradual underflow (subnormals) and overflow to
 * infinity; NaN stays NaN (quiet, sign kept). It works from the double value, so a float64 is rounded once —
 * never double-rounded through float32. Widening is exact.
 */
public final class MiniFloat {
    /** bfloat16: 8 exponent bits, 7 mantissa bits (the top half of a float32). */
    public static final MiniFloat BF16 = new MiniFloat(8, 7);
    /** IEEE 754 binary16: 5 exponent bits, 10 mantissa bits. */
    public static final MiniFloat F16 = new MiniFloat(5, 10);

    private final int mantissaBits;
    private final int bias;
    private final int maxBiasedExponent;   // all ones: Inf/NaN
    private final int exponentMask;
    private final int mantissaMask;
    private final double minNormal;        // 2^(1 - bias)
    private final double subnormalScale;   // 2^(bias - 1 + mantissaBits): subnormal value → integer mantissa
    private final double overflowThreshold; // halfway between the largest finite value and 2^(emax+1)

    private MiniFloat(int exponentBits, int mantissaBits) {
        this.mantissaBits = mantissaBits;
        this.bias = (1 << (exponentBits - 1)) - 1;
        this.maxBiasedExponent = (1 << exponentBits) - 1;
        this.exponentMask = maxBiasedExponent << mantissaBits;
        this.mantissaMask = (1 << mantissaBits) - 1;
        this.minNormal = Math.scalb(1.0, 1 - bias);
        this.subnormalScale = Math.scalb(1.0, bias - 1 + mantissaBits);
        // largest finite = (2 - 2^-m)·2^emax; a value at or above (2 - 2^-(m+1))·2^emax rounds up to infinity
        // (the tie goes to the even neighbour, which is 2^(emax+1)).
        this.overflowThreshold = Math.scalb(2.0 - Math.scalb(1.0, -(mantissaBits + 1)), bias);
    }

    /** Rounds {@code value} to this format (nearest, ties to even); returns the 16 bits in the low bits of an int. */
    public int fromDouble(double value) {
        long doubleBits = Double.doubleToRawLongBits(value);
        int sign = (int) (doubleBits >>> 63) << (15);
        if (Double.isNaN(value)) {
            // quiet NaN with the top mantissa bit set, sign kept
            return sign | exponentMask | (1 << (mantissaBits - 1));
        }
        double magnitude = Math.abs(value);
        if (magnitude >= overflowThreshold) {
            return sign | exponentMask;
        }
        if (magnitude < minNormal) {
            // Subnormal range: the value is an integer multiple of 2^(1-bias-m). Scaling by a power of two is exact,
            // Math.rint rounds half to even. A result of 2^m is the smallest normal number, which the bit
            // pattern m-bit mantissa overflow encodes correctly (exponent field becomes 1).
            return sign | (int) Math.rint(magnitude * subnormalScale);
        }
        int exponent = Math.getExponent(magnitude);
        double significand = Math.rint(Math.scalb(magnitude, mantissaBits - exponent)); // in [2^m, 2^(m+1)]
        int mantissa = (int) significand - (1 << mantissaBits);
        if (mantissa == (1 << mantissaBits)) { // rounded up to the next binade
            exponent++;
            mantissa = 0;
        }
        int biased = exponent + bias;
        if (biased >= maxBiasedExponent) {
            return sign | exponentMask;
        }
        return sign | (biased << mantissaBits) | mantissa;
    }

    /** Rounds a float32 to this format; float → double is exact, so this rounds once. */
    public int fromFloat(float value) {
        return fromDouble(value);
    }

    /** The exact value of the 16-bit pattern {@code bits} (low 16 bits used). */
    public double toDouble(int bits) {
        boolean negative = (bits & 0x8000) != 0;
        int biased = (bits & exponentMask) >>> mantissaBits;
        int mantissa = bits & mantissaMask;
        double magnitude;
        if (biased == maxBiasedExponent) {
            magnitude = mantissa == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else if (biased == 0) {
            magnitude = mantissa / subnormalScale;
        } else {
            magnitude = Math.scalb((double) ((1 << mantissaBits) | mantissa), biased - bias - mantissaBits);
        }
        return negative ? -magnitude : magnitude;
    }

    /** The exact value of {@code bits} as a float32 (every bfloat16 and binary16 value is a float32). */
    public float toFloat(int bits) {
        return (float) toDouble(bits);
    }
}
