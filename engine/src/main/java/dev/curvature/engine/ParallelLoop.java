package dev.curvature.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;

/**
 * Splits a loop over [0, n) across a fixed pool of worker threads (daemon threads, owned by the backend).
 * Work below a threshold runs on the calling thread: on 2 cores, threading a 10 µs loop costs more than it saves.
 */
final class ParallelLoop implements AutoCloseable {
    /** A body over the index range [from, to). */
    @FunctionalInterface
    interface RangeBody {
        void run(long from, long to);
    }

    private final int threads;
    private final ForkJoinPool pool;

    ParallelLoop(int threads) {
        this.threads = Math.max(1, threads);
        this.pool = this.threads > 1 ? new ForkJoinPool(this.threads) : null;
    }

    int threads() {
        return threads;
    }

    /** A thread that never runs: asking whether a segment is accessible by it tells confined from shared memory. */
    private static final Thread OTHER_THREAD = new Thread(() -> { });

    /**
     * Whether worker threads may touch these tensors: memory of a confined arena is readable only by its owner
     * thread, so kernels on it run on the calling thread (use a shared, auto or global arena to get threads).
     */
    static boolean shareable(Tensor... tensors) {
        for (Tensor t : tensors) {
            if (!t.storage().isAccessibleBy(OTHER_THREAD)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Runs {@code body} over [0, n) in up to {@link #threads()} contiguous ranges; {@code work} is the estimated
     * cost of the whole loop in element operations, used to decide whether threading pays; {@code shareable} is
     * {@link #shareable} of the tensors the body touches.
     */
    void forRange(long n, long work, boolean shareable, RangeBody body) {
        if (n <= 0) {
            return;
        }
        int tasks = (int) Math.min(threads, n);
        if (pool == null || !shareable || tasks < 2 || work < 1 << 16) {
            body.run(0, n);
            return;
        }
        List<ForkJoinTask<?>> submitted = new ArrayList<>(tasks - 1);
        for (int t = 1; t < tasks; t++) {
            long from = n * t / tasks;
            long to = n * (t + 1) / tasks;
            submitted.add(pool.submit(() -> body.run(from, to)));
        }
        runAndJoin(() -> body.run(0, n / tasks), submitted);
    }

    /**
     * Runs the caller's share, then waits for every worker even when something failed: callers close the memory the
     * workers use as soon as this returns. The first failure is rethrown, later ones are attached as suppressed.
     */
    private static void runAndJoin(Runnable own, List<ForkJoinTask<?>> submitted) {
        RuntimeException failure = null;
        try {
            own.run();
        } catch (RuntimeException e) {
            failure = e;
        }
        for (ForkJoinTask<?> task : submitted) {
            try {
                task.join();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * Runs {@code body} over [0, n) where item i costs about (n − i): splits so each range has an equal share of
     * the triangle (upper-triangular row loops).
     */
    void forTriangleRows(long n, boolean shareable, RangeBody body) {
        int tasks = (int) Math.min(threads, n);
        long work = n * (n + 1) / 2;
        if (pool == null || !shareable || tasks < 2 || work < 1 << 16) {
            body.run(0, n);
            return;
        }
        long[] bounds = new long[tasks + 1];
        bounds[tasks] = n;
        for (int t = 1; t < tasks; t++) {
            // rows [0, r) of an upper triangle hold n·r − r(r−1)/2 elements; solve for the share t/tasks
            double share = (double) work * t / tasks;
            double b = 2.0 * n + 1;
            double r = (b - Math.sqrt(b * b - 8.0 * share)) / 2.0;
            bounds[t] = Math.max(bounds[t - 1], Math.min(n, Math.round(r)));
        }
        List<ForkJoinTask<?>> submitted = new ArrayList<>(tasks - 1);
        for (int t = 1; t < tasks; t++) {
            long from = bounds[t];
            long to = bounds[t + 1];
            submitted.add(pool.submit(() -> body.run(from, to)));
        }
        runAndJoin(() -> body.run(0, bounds[1]), submitted);
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdown();
        }
    }
}
