package dev.curvature.bindings.lapacke;

import dev.curvature.bindings.Checks;
import dev.curvature.bindings.NativeCallException;
import dev.curvature.bindings.NativeLibrary;
import dev.curvature.bindings.openblas.OpenBlasThreadTimeout;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * LAPACKE symmetric eigensolvers (divide and conquer), LP64.
 *
 * <p>Only the {@code _work} variants are bound: plain {@code LAPACKE_ssyevd} asks LAPACK for its workspace size,
 * receives it as a float, and for n ≳ 2900 that float rounds below the integer LAPACK needs (info = -9).
 * We pass the documented sizes instead: {@code lwork = 1 + 6n + 2n²}, {@code liwork = 3 + 5n}.
 */
public final class Lapacke {
    public static final int COL_MAJOR = 102;

    public static final NativeLibrary.Spec SPEC = new NativeLibrary.Spec("LAPACKE", "curvature.lapacke",
            "CURVATURE_LAPACKE", List.of("liblapacke.so.3", "liblapacke.so"),
            "apt-get install -y --no-install-recommends liblapacke");

    /** Argument names of {@code LAPACKE_?syevd_work}, by 1-based position, for error messages. */
    private static final List<String> SYEVD_ARGUMENTS = List.of("matrix_layout", "jobz", "uplo", "n", "a", "lda",
            "w", "work", "lwork", "iwork", "liwork");

    private static volatile Lapacke instance;

    private final NativeLibrary library;
    private final MethodHandle ssyevdWork;
    private final MethodHandle dsyevdWork;

    private Lapacke(NativeLibrary library) {
        this.library = library;
        var f32 = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_BYTE, JAVA_BYTE, JAVA_INT, ADDRESS, JAVA_INT,
                ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT);
        this.ssyevdWork = library.downcall("LAPACKE_ssyevd_work", f32);
        this.dsyevdWork = library.downcall("LAPACKE_dsyevd_work", f32);
    }

    /** The process-wide instance, loaded on first use. */
    public static Lapacke get() {
        Lapacke local = instance;
        if (local == null) {
            synchronized (Lapacke.class) {
                local = instance;
                if (local == null) {
                    OpenBlasThreadTimeout.prepare();   // LAPACK may load OpenBLAS: prepare it first
                    local = new Lapacke(NativeLibrary.open(SPEC));
                    instance = local;
                }
            }
        }
        return local;
    }

    /** Where the library was loaded from. */
    public String openedAs() {
        return library.openedAs();
    }

    /**
     * Eigenvalues and eigenvectors of a symmetric n×n float32 matrix stored column-major in {@code a}; only the
     * triangle named by {@code uplo} ('U' or 'L', column-major sense) is read. On return {@code w} holds the
     * eigenvalues in ascending order and column j of {@code a} (elements {@code a[j·n .. j·n+n)}) the unit
     * eigenvector of {@code w[j]}.
     */
    public void ssyevd(char uplo, int n, MemorySegment a, MemorySegment w) {
        syevd("LAPACKE_ssyevd_work", ssyevdWork, uplo, n, a, w, Float.BYTES);
    }

    /** {@link #ssyevd} in float64. */
    public void dsyevd(char uplo, int n, MemorySegment a, MemorySegment w) {
        syevd("LAPACKE_dsyevd_work", dsyevdWork, uplo, n, a, w, Double.BYTES);
    }

    private static void syevd(String routine, MethodHandle handle, char uplo, int n, MemorySegment a,
                              MemorySegment w, long elementBytes) {
        if (uplo != 'U' && uplo != 'L') {
            throw new NativeCallException(routine, 0, "uplo = '" + uplo + "' (argument 3) must be 'U' or 'L'");
        }
        if (n < 0) {
            throw new NativeCallException(routine, 0, "n = " + n + " (argument 4) must be >= 0");
        }
        if (n == 0) {
            return;
        }
        Checks.matrix(routine, "a", 5, a, n, n, n, elementBytes);
        Checks.vector(routine, "w", 7, w, n, elementBytes);
        long lwork = 1L + 6L * n + 2L * n * n;
        long liwork = 3L + 5L * n;
        int lworkInt = Checks.int32(routine, "lwork (argument 9)", lwork);
        int liworkInt = Checks.int32(routine, "liwork (argument 11)", liwork);
        int info;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment work = arena.allocate(lwork * elementBytes, 64);
            MemorySegment iwork = arena.allocate(JAVA_INT, liwork);
            info = (int) handle.invokeExact(COL_MAJOR, (byte) 'V', (byte) uplo, n, a, n, w, work, lworkInt,
                    iwork, liworkInt);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new NativeCallException(routine, 0, "downcall failed: " + t);
        }
        checkSyevdInfo(routine, info, n);
    }

    /** Turns a LAPACK {@code info} into an exception naming the argument or the failing submatrix. */
    public static void checkSyevdInfo(String routine, int info, int n) {
        if (info == 0) {
            return;
        }
        if (info == -1010 || info == -1011) {
            throw new NativeCallException(routine, info, "LAPACKE could not allocate memory");
        }
        if (info < 0) {
            int position = -info;
            String name = position <= SYEVD_ARGUMENTS.size() ? SYEVD_ARGUMENTS.get(position - 1) : "?";
            throw new NativeCallException(routine, info, "argument " + position + " (" + name
                    + ") had an illegal value");
        }
        throw new NativeCallException(routine, info, "failed to converge: no eigenvalue found for the submatrix in rows"
                + " and columns " + info / (n + 1) + " through " + info % (n + 1));
    }
}
