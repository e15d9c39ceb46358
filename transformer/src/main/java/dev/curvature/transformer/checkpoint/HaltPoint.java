package dev.curvature.transformer.checkpoint;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Named points in the write paths where a crash test can stop the process dead, as kill -9 would: no shutdown
 * hooks, no finally blocks, no buffers flushed, file locks dropped by the OS. The system property
 * {@code curvature.halt-at=NAME#N} halts the JVM with exit status 137 the N-th time (1-based; {@code NAME} alone:
 * the first time) the point {@code NAME} is reached, after printing {@code halted at NAME#N} on stderr so that the
 * test can tell the planned halt from any other death. Without the property a point costs one field read.
 *
 * <p>Points: {@code atomic-write.open} (temporary file created, empty), {@code safetensors.header-written} (a
 * safetensors temporary holding its header and no data), {@code atomic-write.forced} (temporary complete and on
 * disk, not renamed), {@code atomic-write.renamed} (renamed into place, directory not yet forced);
 * {@code directory.filled} (a replacement directory complete beside the output), {@code directory.aside} (two-rename
 * fallback only: the old output moved aside), {@code directory.swapped} (the new directory in place),
 * {@code directory.deleting} (one more entry of a directory being deleted); {@code collect.batch} (a batch's sums in
 * memory only), {@code edit.layer} (a layer edited in memory), {@code output.locked} (edit: lock taken, leftovers
 * removed).
 */
public final class HaltPoint {
    /** The system property naming the point to halt at. */
    public static final String PROPERTY = "curvature.halt-at";
    private static final String TARGET = target(System.getProperty(PROPERTY));
    private static final int OCCURRENCE = occurrence(System.getProperty(PROPERTY));
    private static final ConcurrentHashMap<String, AtomicInteger> REACHED = new ConcurrentHashMap<>();

    private HaltPoint() {
    }

    /** Marks that the point {@code name} is reached; halts the process if it is the configured one. */
    public static void reach(String name) {
        if (TARGET == null || !TARGET.equals(name)) {
            return;
        }
        int n = REACHED.computeIfAbsent(name, k -> new AtomicInteger()).incrementAndGet();
        if (n == OCCURRENCE) {
            System.err.println("halted at " + name + "#" + n);
            System.err.flush();
            Runtime.getRuntime().halt(137);
        }
    }

    private static String target(String spec) {
        if (spec == null || spec.isBlank()) {
            return null;
        }
        int hash = spec.indexOf('#');
        return hash < 0 ? spec.trim() : spec.substring(0, hash).trim();
    }

    private static int occurrence(String spec) {
        if (spec == null || spec.indexOf('#') < 0) {
            return 1;
        }
        try {
            return Integer.parseInt(spec.substring(spec.indexOf('#') + 1).trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("-D" + PROPERTY + "=" + spec + ": the occurrence after # must be an "
                    + "integer");
        }
    }
}
