package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.engine.CpuBackend;
import picocli.CommandLine.Option;

/** The compute backend a command runs on, as a picocli mixin: the CPU with a chosen number of threads. */
final class BackendOptions {
    @Option(names = "--threads", paramLabel = "N",
            description = "Threads for OpenBLAS and the kernels (default: $OPENBLAS_NUM_THREADS, else all cores).")
    Integer threads;

    /** The most threads accepted: a few per core (more only oversubscribes, and can exhaust a thread limit). */
    static int maxThreads() {
        return Math.max(64, 4 * Runtime.getRuntime().availableProcessors());
    }

    /** The worker count {@link #backend()} will have: --threads, else the CPU backend's default. */
    int threads() {
        return threads != null ? threads : CpuBackend.defaultThreads();
    }

    /** A new backend (the caller closes it). */
    Backend backend() {
        if (threads != null) {
            OptionRanges.require("--threads", threads, 1, maxThreads());
        }
        return threads == null ? new CpuBackend() : new CpuBackend(threads);
    }
}
