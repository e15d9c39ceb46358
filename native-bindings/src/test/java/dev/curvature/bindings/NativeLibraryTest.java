package dev.curvature.bindings;

import dev.curvature.bindings.lapacke.Lapacke;
import dev.curvature.bindings.openblas.OpenBlas;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Library discovery and the argument checks in front of the native calls. */
class NativeLibraryTest {

    @Test
    void missingLibraryNamesWhatWasTriedAndHowToInstall() {
        var e = assertThrows(MissingNativeLibraryException.class,
                () -> NativeLibrary.open(OpenBlas.SPEC, "/nonexistent/libopenblas.so.0"));
        assertTrue(e.getMessage().contains("/nonexistent/libopenblas.so.0 (no such file)"), e.getMessage());
        assertTrue(e.getMessage().contains("apt-get install -y --no-install-recommends libopenblas0-pthread"),
                e.getMessage());
        assertTrue(e.getMessage().contains("-Dcurvature.openblas"), e.getMessage());

        var lapacke = assertThrows(MissingNativeLibraryException.class,
                () -> NativeLibrary.open(Lapacke.SPEC, "liblapacke-does-not-exist.so"));
        assertTrue(lapacke.getMessage().contains("liblapacke"), lapacke.getMessage());
        assertTrue(lapacke.getMessage().contains("apt-get install -y --no-install-recommends liblapacke"),
                lapacke.getMessage());
    }

    @Test
    void missingSymbolNamesLibraryAndSymbol() {
        NativeLibrary blas = NativeLibrary.open(OpenBlas.SPEC);
        var e = assertThrows(MissingNativeLibraryException.class,
                () -> blas.downcall("cblas_no_such_routine", java.lang.foreign.FunctionDescriptor.ofVoid()));
        assertTrue(e.getMessage().contains("cblas_no_such_routine") && e.getMessage().contains("OpenBLAS"),
                e.getMessage());
    }

    @Test
    void openBlasReportsItsConfigurationAndThreads() {
        OpenBlas blas = OpenBlas.get();
        assertTrue(blas.config().startsWith("OpenBLAS"), blas.config());
        blas.setNumThreads(1);
        assertEquals(1, blas.numThreads());
        blas.setNumThreads(2);
        assertEquals(2, blas.numThreads());
    }

    @Test
    void badLeadingDimensionIsRefusedBeforeTheCall() {
        try (Arena arena = Arena.ofConfined()) {
            var a = arena.allocate(ValueLayout.JAVA_FLOAT, 6);
            var c = arena.allocate(ValueLayout.JAVA_FLOAT, 4);
            // A is 2×3 row-major: lda must be >= 3 (cblas_sgemm argument 9)
            var e = assertThrows(NativeCallException.class,
                    () -> OpenBlas.get().sgemm(false, true, 2, 2, 3, 1f, a, 2, a, 3, 0f, c, 2));
            assertTrue(e.getMessage().startsWith("cblas_sgemm") && e.getMessage().contains("argument 9"),
                    e.getMessage());
            // C needs 2×2 = 4 floats with ldc 2, but a 4-row C would overflow the buffer
            var small = assertThrows(NativeCallException.class,
                    () -> OpenBlas.get().sgemm(false, false, 4, 1, 1, 1f, a, 1, a, 1, 0f, c, 2));
            assertTrue(small.getMessage().contains("buffer C (argument 13)"), small.getMessage());
        }
    }

    @Test
    void lapackStatusCodesNameTheArgument() {
        try (Arena arena = Arena.ofConfined()) {
            var a = arena.allocate(ValueLayout.JAVA_DOUBLE, 4);
            var w = arena.allocate(ValueLayout.JAVA_DOUBLE, 1);
            var e = assertThrows(NativeCallException.class, () -> Lapacke.get().dsyevd('U', 2, a, w));
            assertTrue(e.getMessage().contains("LAPACKE_dsyevd_work") && e.getMessage().contains("buffer w"),
                    e.getMessage());
            var uplo = assertThrows(NativeCallException.class, () -> Lapacke.get().dsyevd('X', 2, a, w));
            assertTrue(uplo.getMessage().contains("argument 3"), uplo.getMessage());
        }
        // the info → message mapping for codes LAPACK itself returns
        var illegal = assertThrows(NativeCallException.class, () -> Lapacke.checkSyevdInfo("LAPACKE_dsyevd_work", -9, 100));
        assertTrue(illegal.getMessage().contains("argument 9 (lwork)"), illegal.getMessage());
        assertEquals(-9, illegal.status());
        var converge = assertThrows(NativeCallException.class, () -> Lapacke.checkSyevdInfo("LAPACKE_dsyevd_work", 205, 100));
        assertTrue(converge.getMessage().contains("rows and columns 2 through 3"), converge.getMessage());
    }

    @Test
    void lapackeSolvesASmallSymmetricProblem() {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3 (closed form), returned ascending
        try (Arena arena = Arena.ofConfined()) {
            var a = arena.allocate(ValueLayout.JAVA_DOUBLE, 4);
            var w = arena.allocate(ValueLayout.JAVA_DOUBLE, 2);
            a.setAtIndex(ValueLayout.JAVA_DOUBLE, 0, 2);
            a.setAtIndex(ValueLayout.JAVA_DOUBLE, 1, 1);
            a.setAtIndex(ValueLayout.JAVA_DOUBLE, 2, 1);
            a.setAtIndex(ValueLayout.JAVA_DOUBLE, 3, 2);
            Lapacke.get().dsyevd('U', 2, a, w);
            assertEquals(1.0, w.getAtIndex(ValueLayout.JAVA_DOUBLE, 0), 1e-15);
            assertEquals(3.0, w.getAtIndex(ValueLayout.JAVA_DOUBLE, 1), 1e-15);
        }
    }
}
