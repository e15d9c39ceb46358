package dev.curvature.bindings.openblas;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * How long OpenBLAS's worker threads spin after a threaded call before they sleep: 2^n cycles, read once from
 * {@code OPENBLAS_THREAD_TIMEOUT} (n in 4..30) when the library loads.
 *
 * <p>OpenBLAS's default, n = 28 (about 0.1 s), keeps its workers spinning — calling sched_yield — through every
 * Java kernel between two BLAS calls, on the very cores that kernel's own threads need: on 2 cores a GPT-2 step
 * spent a fifth of its CPU time in the scheduler. So, unless the user has set the variable, this process sets it
 * to {@value #DEFAULT_EXPONENT} (about 20 µs: back-to-back products still find their workers awake) before OpenBLAS
 * or LAPACKE is first opened. Back to back on the 2-core test machine: system time of a GPT-2-small bench run
 * 17 s → 8–10 s, the demo 55.8 s → 48.5 s wall; the bench's step rates moved by less than that machine's noise.
 */
public final class OpenBlasThreadTimeout {
    /** The exponent n this project sets: workers spin 2^n cycles. */
    public static final int DEFAULT_EXPONENT = 16;
    private static final String VARIABLE = "OPENBLAS_THREAD_TIMEOUT";

    private static String inEffect;

    private OpenBlasThreadTimeout() {
    }

    /**
     * Sets OPENBLAS_THREAD_TIMEOUT in this process's environment unless it is set already; call before the first
     * dlopen of OpenBLAS or of a LAPACK that loads it. Idempotent.
     */
    public static synchronized void prepare() {
        if (inEffect != null) {
            return;
        }
        String user = System.getenv(VARIABLE);
        if (user != null && !user.isBlank()) {
            inEffect = "2^" + user.trim() + " cycles (" + VARIABLE + ")";
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            Linker linker = Linker.nativeLinker();
            MemorySegment setenv = linker.defaultLookup().find("setenv").orElse(null);
            if (setenv == null) {
                inEffect = "OpenBLAS default (no setenv in this C library)";
                return;
            }
            MethodHandle call = linker.downcallHandle(setenv, FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS,
                    JAVA_INT));
            int status = (int) call.invokeExact(arena.allocateFrom(VARIABLE),
                    arena.allocateFrom(Integer.toString(DEFAULT_EXPONENT)), 0);
            inEffect = status == 0 ? "2^" + DEFAULT_EXPONENT + " cycles (curvature's default; set "
                    + VARIABLE + " to change it)" : "OpenBLAS default (setenv failed)";
        } catch (Throwable t) {
            inEffect = "OpenBLAS default (setenv failed: " + t + ")";
        }
    }

    /** What the workers' spin time is in this process, for reports. */
    public static synchronized String inEffect() {
        return inEffect == null ? "not prepared" : inEffect;
    }
}
