package dev.curvature.bindings;

import java.lang.foreign.MemorySegment;

/**
 * Argument checks done in Java before a native call, so that a bad leading dimension or a buffer that is
 * too small becomes an exception naming the routine and argument instead of a crash in C.
 */
public final class Checks {
    private Checks() {
    }

    /**
     * Checks a dense row-major matrix operand stored as {@code rows} rows of {@code cols} elements with
     * leading dimension {@code ld}, in a segment of {@code elementBytes}-sized elements.
     *
     * @param argument the 1-based argument position of the buffer in the C signature, for the message
     */
    public static void matrix(String routine, String name, int argument, MemorySegment buffer,
                              long rows, long cols, long ld, long elementBytes) {
        if (rows < 0 || cols < 0) {
            throw new NativeCallException(routine, 0, "matrix " + name + " (argument " + argument
                    + ") has negative shape " + rows + "x" + cols);
        }
        if (ld < Math.max(1, cols)) {
            throw new NativeCallException(routine, 0, "leading dimension of " + name + " (argument "
                    + (argument + 1) + ") is " + ld + ", must be >= max(1, " + cols + ")");
        }
        if (rows == 0 || cols == 0) {
            return;
        }
        long neededBytes = ((rows - 1) * ld + cols) * elementBytes;
        if (buffer.byteSize() < neededBytes) {
            throw new NativeCallException(routine, 0, "buffer " + name + " (argument " + argument + ") holds "
                    + buffer.byteSize() + " bytes, a " + rows + "x" + cols + " matrix with leading dimension "
                    + ld + " needs " + neededBytes);
        }
    }

    /** Checks that a size argument fits the 32-bit integers of the LP64 C interfaces. */
    public static int int32(String routine, String name, long value) {
        if (value < 0 || value > Integer.MAX_VALUE) {
            throw new NativeCallException(routine, 0, name + " = " + value + " does not fit a 32-bit int");
        }
        return (int) value;
    }

    /** Checks that a vector buffer holds at least {@code count} elements. */
    public static void vector(String routine, String name, int argument, MemorySegment buffer, long count,
                              long elementBytes) {
        if (buffer.byteSize() < count * elementBytes) {
            throw new NativeCallException(routine, 0, "buffer " + name + " (argument " + argument + ") holds "
                    + buffer.byteSize() + " bytes, needs " + count * elementBytes);
        }
    }
}
