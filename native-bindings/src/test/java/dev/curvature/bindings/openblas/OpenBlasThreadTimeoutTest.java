package dev.curvature.bindings.openblas;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Opening OpenBLAS leaves OPENBLAS_THREAD_TIMEOUT in the C environment: the user's value, else the default. */
class OpenBlasThreadTimeoutTest {
    /** getenv as OpenBLAS sees it (System.getenv is a copy taken at JVM start and does not see setenv). */
    private static String nativeGetenv(String name) throws Throwable {
        Linker linker = Linker.nativeLinker();
        MethodHandle getenv = linker.downcallHandle(linker.defaultLookup().find("getenv").orElseThrow(),
                FunctionDescriptor.of(ADDRESS, ADDRESS));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = (MemorySegment) getenv.invokeExact(arena.allocateFrom(name));
            return value.equals(MemorySegment.NULL) ? null : value.reinterpret(64).getString(0);
        }
    }

    @Test
    void theSpinTimeIsInTheEnvironmentOpenBlasReads() throws Throwable {
        OpenBlas.get();
        String user = System.getenv("OPENBLAS_THREAD_TIMEOUT");
        String expected = user != null && !user.isBlank() ? user : Integer.toString(OpenBlasThreadTimeout.DEFAULT_EXPONENT);
        assertEquals(expected, nativeGetenv("OPENBLAS_THREAD_TIMEOUT"));
        assertTrue(OpenBlasThreadTimeout.inEffect().startsWith("2^" + expected.trim() + " cycles"),
                OpenBlasThreadTimeout.inEffect());
    }
}
