package dev.curvature.transformer.checkpoint;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Swaps two paths in one step with Linux's {@code renameat2(..., RENAME_EXCHANGE)} (glibc ≥ 2.28; ext4, xfs,
 * btrfs, tmpfs): at every instant each name holds one of the two entries, which two renames cannot give. Where
 * the call is missing or refused, {@link #swap} says so and the caller falls back to renames.
 */
public final class RenameExchange {
    /** {@code AT_FDCWD}: paths relative to the working directory (ours are absolute). */
    private static final int AT_FDCWD = -100;
    private static final int RENAME_EXCHANGE = 2;
    private static final MethodHandle RENAMEAT2 = lookup();

    private RenameExchange() {
    }

    private static MethodHandle lookup() {
        if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
            return null;
        }
        try {
            Linker linker = Linker.nativeLinker();
            Optional<MemorySegment> symbol = linker.defaultLookup().find("renameat2");
            return symbol.map(s -> linker.downcallHandle(s, FunctionDescriptor.of(ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                    ValueLayout.JAVA_INT))).orElse(null);
        } catch (RuntimeException | LinkageError noNativeAccess) {
            return null;   // e.g. native access not enabled: renames instead
        }
    }

    /** Exchanges {@code a} and {@code b} (both must exist); false when this system cannot, nothing changed then. */
    public static boolean swap(Path a, Path b) {
        if (RENAMEAT2 == null) {
            return false;
        }
        try (Arena arena = Arena.ofConfined()) {
            int rc = (int) RENAMEAT2.invokeExact(AT_FDCWD, arena.allocateFrom(a.toAbsolutePath().toString()),
                    AT_FDCWD, arena.allocateFrom(b.toAbsolutePath().toString()), RENAME_EXCHANGE);
            return rc == 0;
        } catch (Throwable t) {
            return false;
        }
    }
}
