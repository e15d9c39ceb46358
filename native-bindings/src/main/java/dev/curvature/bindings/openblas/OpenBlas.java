package dev.curvature.bindings.openblas;

import dev.curvature.bindings.Checks;
import dev.curvature.bindings.NativeCallException;
import dev.curvature.bindings.NativeLibrary;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * CBLAS routines of OpenBLAS (LP64: 32-bit ints), row-major only.
 *
 * <p>Every call checks shapes, leading dimensions and buffer sizes in Java first: CBLAS reports bad
 * arguments by printing from {@code xerbla} and returning, which would silently leave the output unchanged.
 */
public final class OpenBlas {
    public static final int ROW_MAJOR = 101;
    public static final int NO_TRANS = 111;
    public static final int TRANS = 112;
    public static final int UPPER = 121;
    public static final int LOWER = 122;

    public static final NativeLibrary.Spec SPEC = new NativeLibrary.Spec("OpenBLAS", "curvature.openblas",
            "CURVATURE_OPENBLAS", List.of("libopenblas.so.0", "libopenblas.so"),
            "apt-get install -y --no-install-recommends libopenblas0-pthread");

    private static volatile OpenBlas instance;

    private final NativeLibrary library;
    private final MethodHandle sgemm;
    private final MethodHandle dgemm;
    private final MethodHandle ssyrk;
    private final MethodHandle dsyrk;
    private final MethodHandle setNumThreads;
    private final MethodHandle getNumThreads;
    private final MethodHandle getConfig;

    private OpenBlas(NativeLibrary library) {
        this.library = library;
        var gemmF32 = FunctionDescriptor.ofVoid(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_FLOAT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT);
        var gemmF64 = FunctionDescriptor.ofVoid(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_DOUBLE, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_DOUBLE, ADDRESS, JAVA_INT);
        var syrkF32 = FunctionDescriptor.ofVoid(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_FLOAT, ADDRESS, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT);
        var syrkF64 = FunctionDescriptor.ofVoid(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_DOUBLE, ADDRESS, JAVA_INT, JAVA_DOUBLE, ADDRESS, JAVA_INT);
        this.sgemm = library.downcall("cblas_sgemm", gemmF32);
        this.dgemm = library.downcall("cblas_dgemm", gemmF64);
        this.ssyrk = library.downcall("cblas_ssyrk", syrkF32);
        this.dsyrk = library.downcall("cblas_dsyrk", syrkF64);
        this.setNumThreads = library.downcall("openblas_set_num_threads", FunctionDescriptor.ofVoid(JAVA_INT));
        this.getNumThreads = library.downcall("openblas_get_num_threads", FunctionDescriptor.of(JAVA_INT));
        this.getConfig = library.downcall("openblas_get_config", FunctionDescriptor.of(ADDRESS));
    }

    /** The process-wide instance, loaded on first use. */
    public static OpenBlas get() {
        OpenBlas local = instance;
        if (local == null) {
            synchronized (OpenBlas.class) {
                local = instance;
                if (local == null) {
                    OpenBlasThreadTimeout.prepare();   // OpenBLAS reads it once, on load
                    local = new OpenBlas(NativeLibrary.open(SPEC));
                    instance = local;
                }
            }
        }
        return local;
    }

    /** Loads OpenBLAS from an explicit location (path or soname) without touching the shared instance. */
    public static OpenBlas load(String override) {
        OpenBlasThreadTimeout.prepare();
        return new OpenBlas(NativeLibrary.open(SPEC, override));
    }

    /**
     * Row-major {@code C (m×n) = alpha·op(A)·op(B) + beta·C}, op(A) (m×k), op(B) (k×n), in float32.
     * A is stored (m×k) when not transposed and (k×m) when transposed; likewise B.
     */
    public void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, MemorySegment a, int lda,
                      MemorySegment b, int ldb, float beta, MemorySegment c, int ldc) {
        checkGemm("cblas_sgemm", transA, transB, m, n, k, a, lda, b, ldb, c, ldc, Float.BYTES);
        try {
            sgemm.invokeExact(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k,
                    alpha, a, lda, b, ldb, beta, c, ldc);
        } catch (Throwable t) {
            throw rethrow("cblas_sgemm", t);
        }
    }

    /** {@link #sgemm} in float64. */
    public void dgemm(boolean transA, boolean transB, int m, int n, int k, double alpha, MemorySegment a, int lda,
                      MemorySegment b, int ldb, double beta, MemorySegment c, int ldc) {
        checkGemm("cblas_dgemm", transA, transB, m, n, k, a, lda, b, ldb, c, ldc, Double.BYTES);
        try {
            dgemm.invokeExact(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k,
                    alpha, a, lda, b, ldb, beta, c, ldc);
        } catch (Throwable t) {
            throw rethrow("cblas_dgemm", t);
        }
    }

    /**
     * Row-major symmetric rank-k update of the upper triangle, {@code C (n×n) = alpha·XᵀX + beta·C} for
     * X (k×n) with leading dimension ldx. Only the upper triangle of C is read or written.
     */
    public void ssyrkUpperXtX(int n, int k, float alpha, MemorySegment x, int ldx, float beta,
                              MemorySegment c, int ldc) {
        checkSyrk("cblas_ssyrk", n, k, x, ldx, c, ldc, Float.BYTES);
        try {
            ssyrk.invokeExact(ROW_MAJOR, UPPER, TRANS, n, k, alpha, x, ldx, beta, c, ldc);
        } catch (Throwable t) {
            throw rethrow("cblas_ssyrk", t);
        }
    }

    /** {@link #ssyrkUpperXtX} in float64. */
    public void dsyrkUpperXtX(int n, int k, double alpha, MemorySegment x, int ldx, double beta,
                              MemorySegment c, int ldc) {
        checkSyrk("cblas_dsyrk", n, k, x, ldx, c, ldc, Double.BYTES);
        try {
            dsyrk.invokeExact(ROW_MAJOR, UPPER, TRANS, n, k, alpha, x, ldx, beta, c, ldc);
        } catch (Throwable t) {
            throw rethrow("cblas_dsyrk", t);
        }
    }

    /** Sets the number of threads OpenBLAS uses for subsequent calls. */
    public void setNumThreads(int threads) {
        if (threads < 1) {
            throw new NativeCallException("openblas_set_num_threads", 0, "thread count " + threads + " must be >= 1");
        }
        try {
            setNumThreads.invokeExact(threads);
        } catch (Throwable t) {
            throw rethrow("openblas_set_num_threads", t);
        }
    }

    public int numThreads() {
        try {
            return (int) getNumThreads.invokeExact();
        } catch (Throwable t) {
            throw rethrow("openblas_get_num_threads", t);
        }
    }

    /** OpenBLAS's build description, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64". */
    public String config() {
        try {
            MemorySegment text = (MemorySegment) getConfig.invokeExact();
            return text.reinterpret(4096).getString(0);
        } catch (Throwable t) {
            throw rethrow("openblas_get_config", t);
        }
    }

    /** Where the library was loaded from. */
    public String openedAs() {
        return library.openedAs();
    }

    private static void checkGemm(String routine, boolean transA, boolean transB, int m, int n, int k,
                                  MemorySegment a, int lda, MemorySegment b, int ldb, MemorySegment c, int ldc,
                                  long elementBytes) {
        if (m < 0 || n < 0 || k < 0) {
            throw new NativeCallException(routine, 0, "negative dimension m=" + m + " n=" + n + " k=" + k
                    + " (arguments 4-6)");
        }
        // Argument positions in cblas_?gemm: A = 8, B = 10, C = 13.
        Checks.matrix(routine, "A", 8, a, transA ? k : m, transA ? m : k, lda, elementBytes);
        Checks.matrix(routine, "B", 10, b, transB ? n : k, transB ? k : n, ldb, elementBytes);
        Checks.matrix(routine, "C", 13, c, m, n, ldc, elementBytes);
    }

    private static void checkSyrk(String routine, int n, int k, MemorySegment x, int ldx, MemorySegment c, int ldc,
                                  long elementBytes) {
        if (n < 0 || k < 0) {
            throw new NativeCallException(routine, 0, "negative dimension n=" + n + " k=" + k + " (arguments 4-5)");
        }
        // Argument positions in cblas_?syrk: A = 7, C = 10.
        Checks.matrix(routine, "X", 7, x, k, n, ldx, elementBytes);
        Checks.matrix(routine, "C", 10, c, n, n, ldc, elementBytes);
    }

    private static RuntimeException rethrow(String routine, Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new NativeCallException(routine, 0, "downcall failed: " + t);
    }
}
