package dev.curvature.engine;

/**
 * One CPU backend (2 threads) for every test class of a test JVM: opening OpenBLAS and a thread pool per class adds
 * nothing to what is tested. Its worker threads are daemons, so it is never closed.
 */
public final class SharedCpuBackend {
    private static final CpuBackend BACKEND = new CpuBackend(2);

    private SharedCpuBackend() {
    }

    public static CpuBackend get() {
        return BACKEND;
    }
}
