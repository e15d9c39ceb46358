package dev.curvature.spark;

import dev.curvature.kfac.MemoryPlan;
import org.apache.spark.SparkConf;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What every executor of a collection needs, set on the job's {@link SparkConf} before the context starts: the JVM
 * flags (native access for OpenBLAS through FFM; the Vector API for the element-wise kernels' exponential; the opens
 * that Kryo and Spark's serializers need), OpenBLAS
 * threads equal to the cores Spark grants a task, and native memory outside the heap from the memory plan.
 */
public final class ExecutorSettings {
    /** JVM flags every executor needs; those missing from spark.executor.extraJavaOptions are appended. */
    public static final List<String> JAVA_OPTIONS = List.of(
            "--enable-native-access=ALL-UNNAMED",
            "--add-modules=jdk.incubator.vector",
            "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
            "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED",
            "--add-opens=java.base/java.util=ALL-UNNAMED");

    /** Headroom beyond the plan for the JVM's own native memory (threads, code cache, Netty buffers): Spark's minimum. */
    static final long JVM_OVERHEAD_MIB = 384;

    private static final String EXTRA_JAVA_OPTIONS = "spark.executor.extraJavaOptions";
    private static final String MEMORY_OVERHEAD = "spark.executor.memoryOverhead";
    private static final String OPENBLAS_THREADS = "spark.executorEnv.OPENBLAS_NUM_THREADS";

    private ExecutorSettings() {
    }

    /** Cores Spark grants each task (spark.task.cpus): the compute threads of one shard. */
    public static int taskCpus(SparkConf conf) {
        int cpus = conf.getInt("spark.task.cpus", 1);
        if (cpus < 1) {
            throw new IllegalArgumentException("spark.task.cpus must be >= 1, got " + cpus);
        }
        return cpus;
    }

    /** Tasks one executor runs at once: spark.executor.cores / spark.task.cpus (at least one). */
    static int tasksPerExecutor(SparkConf conf) {
        return Math.max(1, conf.getInt("spark.executor.cores", 1) / taskCpus(conf));
    }

    /**
     * The native memory an executor needs, MiB: every concurrent task's plan (model, workspace, factors, scratch; all
     * off-heap) plus the JVM's own overhead.
     */
    static long memoryOverheadMiB(SparkConf conf, MemoryPlan plan) {
        long perTask = (plan.total() + (1L << 20) - 1) >> 20;
        return tasksPerExecutor(conf) * perTask + JVM_OVERHEAD_MIB;
    }

    /**
     * Sets the executors' flags, OpenBLAS threads and memory overhead on {@code conf}. A memoryOverhead set by the user
     * below what the plan needs is refused, naming both; a larger one is kept.
     */
    public static void apply(SparkConf conf, MemoryPlan plan) {
        List<String> flags = new ArrayList<>(Arrays.asList(conf.get(EXTRA_JAVA_OPTIONS, "").trim().split("\\s+")));
        flags.removeIf(String::isEmpty);
        for (String flag : JAVA_OPTIONS) {
            if (!flags.contains(flag)) {
                flags.add(flag);
            }
        }
        conf.set(EXTRA_JAVA_OPTIONS, String.join(" ", flags));
        conf.set(OPENBLAS_THREADS, String.valueOf(taskCpus(conf)));
        long needed = memoryOverheadMiB(conf, plan);
        if (conf.contains(MEMORY_OVERHEAD)) {
            long given = conf.getSizeAsMb(MEMORY_OVERHEAD);
            if (given < needed) {
                throw new IllegalArgumentException(MEMORY_OVERHEAD + " " + conf.get(MEMORY_OVERHEAD) + " is below the "
                        + needed + " MiB that " + tasksPerExecutor(conf) + " concurrent collection task(s) need off "
                        + "the heap (memory plan " + (plan.total() >> 20) + " MiB each + " + JVM_OVERHEAD_MIB
                        + " MiB JVM); raise it or lower spark.executor.cores");
            }
        } else {
            conf.set(MEMORY_OVERHEAD, needed + "m");
        }
    }
}
