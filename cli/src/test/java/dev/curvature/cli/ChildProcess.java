package dev.curvature.cli;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs the command line in a child JVM (this test JVM's java and class path), for what an in-process run cannot
 * show: a process that dies at a {@link dev.curvature.transformer.checkpoint.HaltPoint}, or one under its own heap
 * limit.
 */
record ChildProcess(int code, String stderr) {
    private static final long TIMEOUT_SECONDS = 120;

    /**
     * Runs {@code curvature args...} with the given JVM options (e.g. {@code -Dcurvature.halt-at=...}, {@code -Xmx});
     * stdout is discarded. A child that outlives {@link #TIMEOUT_SECONDS} is killed and the test fails (a hang).
     */
    static ChildProcess run(List<String> jvmOptions, String... args) throws Exception {
        return run(List.of(), jvmOptions, args);
    }

    /**
     * {@link #run(List, String...)} with the child's address space capped at {@code bytes} (prlimit --as): native
     * allocations beyond it fail inside the child (an OutOfMemoryError there) instead of filling this machine's memory
     * until the kernel kills a process — what a regression that allocates a bad config's size would otherwise do.
     */
    static ChildProcess runWithAddressSpace(long bytes, List<String> jvmOptions, String... args) throws Exception {
        return run(List.of("prlimit", "--as=" + bytes), jvmOptions, args);
    }

    /**
     * {@link #run(List, String...)} with every file the child writes capped at {@code bytes} (prlimit --fsize): a
     * write beyond it fails with "File too large" (the JVM ignores SIGXFSZ), as one on a full disk fails with "No
     * space left on device" — a write that fails part-way, reproducible without filling a disk.
     */
    static ChildProcess runWithFileSizeLimit(long bytes, String... args) throws Exception {
        return run(List.of("prlimit", "--fsize=" + bytes), List.of(), args);
    }

    private static ChildProcess run(List<String> launcher, List<String> jvmOptions, String... args) throws Exception {
        Running child = start(launcher, jvmOptions, args);
        Process p = child.process();
        Path err = child.stderr();
        if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            fail("curvature " + String.join(" ", args) + " did not end within " + TIMEOUT_SECONDS + " s: "
                    + Files.readString(err, StandardCharsets.UTF_8));
        }
        String stderr = Files.readString(err, StandardCharsets.UTF_8);
        Files.delete(err);
        return new ChildProcess(p.exitValue(), stderr);
    }

    /** A child started and left running (stderr to a temporary file), for tests that act while it runs. */
    record Running(Process process, Path stderr) {
        long pid() {
            return process.pid();
        }

        /** Waits until the child has printed {@code text} on stderr; fails if it ends or takes {@code seconds}. */
        void awaitStderr(String text, long seconds) throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            while (!Files.readString(stderr, StandardCharsets.UTF_8).contains(text)) {
                if (!process.isAlive() || System.nanoTime() > deadline) {
                    fail("child never printed '" + text + "': " + Files.readString(stderr, StandardCharsets.UTF_8));
                }
                Thread.sleep(20);
            }
        }

        /** kill -9, waits for the end, removes the stderr file. */
        void kill() throws Exception {
            process.destroyForcibly().waitFor();
            Files.deleteIfExists(stderr);
        }
    }

    /** Starts {@code curvature args...} in a child JVM with the given options, without waiting for it. */
    static Running start(List<String> jvmOptions, String... args) throws Exception {
        return start(List.of(), jvmOptions, args);
    }

    private static Running start(List<String> launcher, List<String> jvmOptions, String... args) throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> command = new ArrayList<>(launcher);
        command.addAll(List.of(java, "--enable-native-access=ALL-UNNAMED"));
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), CurvatureCommand.class.getName()));
        command.addAll(Arrays.asList(args));
        Path err = Files.createTempFile("curvature-child-", ".stderr");
        ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(err.toFile());
        builder.environment().put("OPENBLAS_NUM_THREADS", "1");
        return new Running(builder.start(), err);
    }
}
