package dev.curvature.engine;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Element types. F32 and F64 are compute types; BF16 and F16 are storage types (checkpoints on disk,
 * half-size activations) that kernels widen to double when they read and round (nearest-even) when they write;
 * I32 holds token ids and targets.
 */
public enum DType {
    F32(4, "F32"),
    F64(8, "F64"),
    BF16(2, "BF16"),
    F16(2, "F16"),
    /** 32-bit signed integers: token ids and targets (−1 marks an ignored position). */
    I32(4, "I32");

    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;

    private final int byteSize;
    private final String safetensorsName;

    DType(int byteSize, String safetensorsName) {
        this.byteSize = byteSize;
        this.safetensorsName = safetensorsName;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** The dtype string of the safetensors format ("F32", "BF16", ...). */
    public String safetensorsName() {
        return safetensorsName;
    }

    /** The dtype named {@code name} in a safetensors header, or null when it is not one of ours. */
    public static DType fromSafetensorsName(String name) {
        for (DType t : values()) {
            if (t.safetensorsName.equals(name)) {
                return t;
            }
        }
        return null;
    }

    /** Whether kernels compute in this type (otherwise it is storage only). */
    public boolean isCompute() {
        return this == F32 || this == F64;
    }

    /** Reads element {@code index} (in elements from the segment start) as a double, exactly. */
    public double get(MemorySegment segment, long index) {
        return switch (this) {
            case F32 -> segment.getAtIndex(FLOAT, index);
            case F64 -> segment.getAtIndex(DOUBLE, index);
            case BF16 -> Float.intBitsToFloat((segment.getAtIndex(SHORT, index) & 0xFFFF) << 16);
            case F16 -> MiniFloat.F16.toDouble(segment.getAtIndex(SHORT, index));
            case I32 -> segment.getAtIndex(INT, index);
        };
    }

    /** Writes {@code value} at element {@code index}, rounding to nearest-even when the type is narrower. */
    public void set(MemorySegment segment, long index, double value) {
        switch (this) {
            case F32 -> segment.setAtIndex(FLOAT, index, (float) value);
            case F64 -> segment.setAtIndex(DOUBLE, index, value);
            case BF16 -> segment.setAtIndex(SHORT, index, (short) MiniFloat.BF16.fromDouble(value));
            case F16 -> segment.setAtIndex(SHORT, index, (short) MiniFloat.F16.fromDouble(value));
            case I32 -> segment.setAtIndex(INT, index, toInt(value));
        }
    }

    private static final ThreadLocal<float[]> FLOAT_STAGING = ThreadLocal.withInitial(() -> new float[4096]);

    /** A per-thread float buffer of at least {@code count} elements for bulk F32 transfers. */
    private static float[] floatStaging(int count) {
        float[] buffer = FLOAT_STAGING.get();
        if (buffer.length < count) {
            buffer = new float[Math.max(count, 2 * buffer.length)];
            FLOAT_STAGING.set(buffer);
        }
        return buffer;
    }

    private static int toInt(double value) {
        if (value != Math.rint(value) || value < Integer.MIN_VALUE || value > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("cannot store " + value + " in an I32 tensor");
        }
        return (int) value;
    }

    /**
     * Reads {@code count} consecutive elements starting at element {@code index} into {@code dst[offset..]}.
     * Kernels work on rows in double and call this once per row, so the type switch is outside the inner loop.
     */
    public void read(MemorySegment segment, long index, double[] dst, int offset, int count) {
        switch (this) {
            case F32 -> {
                // one bounds-checked bulk copy, then a plain widening loop (per-element segment reads cost a check each)
                float[] staging = floatStaging(count);
                MemorySegment.copy(segment, FLOAT, index * 4, staging, 0, count);
                for (int i = 0; i < count; i++) {
                    dst[offset + i] = staging[i];
                }
            }
            case F64 -> MemorySegment.copy(segment, DOUBLE, index * 8, dst, offset, count);
            default -> {
                for (int i = 0; i < count; i++) {
                    dst[offset + i] = get(segment, index + i);
                }
            }
        }
    }

    /** Writes {@code src[offset..offset+count)} to consecutive elements starting at element {@code index}. */
    public void write(MemorySegment segment, long index, double[] src, int offset, int count) {
        switch (this) {
            case F32 -> {
                float[] staging = floatStaging(count);
                for (int i = 0; i < count; i++) {
                    staging[i] = (float) src[offset + i];
                }
                MemorySegment.copy(staging, 0, segment, FLOAT, index * 4, count);
            }
            case F64 -> MemorySegment.copy(src, offset, segment, DOUBLE, index * 8, count);
            default -> {
                for (int i = 0; i < count; i++) {
                    set(segment, index + i, src[offset + i]);
                }
            }
        }
    }
}
