package dev.curvature.spark;

import dev.curvature.bindings.MissingNativeLibraryException;
import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.DType;
import dev.curvature.kfac.KfacCollector;
import dev.curvature.kfac.MemoryPlan;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ExecutorSettingsTest {
    static MemoryPlan plan() throws IOException {
        return new CollectRequest(SparkCollectionTest.MODEL.toString(), null, DType.F32, "mlp",
                KfacCollector.Labels.GOLD, 0, 8, 64, 0, CovariancePrecision.F32_WITH_F64_SUMS, 0).memoryPlan(2);
    }

    @Test
    void setsFlagsThreadsAndOverheadFromThePlan() throws IOException {
        MemoryPlan plan = plan();
        SparkConf conf = new SparkConf(false).set("spark.task.cpus", "2").set("spark.executor.cores", "6")
                .set("spark.executor.extraJavaOptions", "-XX:+UseG1GC --enable-native-access=ALL-UNNAMED");
        ExecutorSettings.apply(conf, plan);
        List<String> flags = List.of(conf.get("spark.executor.extraJavaOptions").split(" "));
        assertEquals("-XX:+UseG1GC", flags.get(0), "the user's flags stay first");
        assertEquals(1 + ExecutorSettings.JAVA_OPTIONS.size(), flags.size(), "no flag twice: " + flags);
        assertTrue(flags.containsAll(ExecutorSettings.JAVA_OPTIONS), flags.toString());
        assertEquals("2", conf.get("spark.executorEnv.OPENBLAS_NUM_THREADS"));
        // 6 cores / 2 per task = 3 tasks at once, each the plan's bytes rounded up to MiB, + the JVM's 384 MiB
        long perTask = (long) Math.ceil(plan.total() / (1024.0 * 1024.0));
        assertTrue(perTask > 1, "the workbench plan is over a MiB: " + plan.total());
        assertEquals((3 * perTask + 384) + "m", conf.get("spark.executor.memoryOverhead"));
    }

    @Test
    void aMemoryOverheadBelowThePlanIsRefusedALargerOneKept() throws IOException {
        MemoryPlan plan = plan();
        SparkConf small = new SparkConf(false).set("spark.executor.memoryOverhead", "100m");
        var e = assertThrows(IllegalArgumentException.class, () -> ExecutorSettings.apply(small, plan));
        assertTrue(e.getMessage().startsWith("spark.executor.memoryOverhead 100m is below the "), e.getMessage());
        SparkConf large = new SparkConf(false).set("spark.executor.memoryOverhead", "8g");
        ExecutorSettings.apply(large, plan);
        assertEquals("8g", large.get("spark.executor.memoryOverhead"));
        assertEquals("1", large.get("spark.executorEnv.OPENBLAS_NUM_THREADS"), "spark.task.cpus defaults to 1");
    }

    @Test
    void anExecutorWithoutOpenBlasSaysWhichHostAndWhatToDo() {
        MissingNativeLibraryException missing = new MissingNativeLibraryException(
                "OpenBLAS could not be loaded; tried default names: libopenblas.so.0 (not loadable).");
        for (Throwable thrown : List.of(missing, new ExceptionInInitializerError(missing))) {
            var e = assertThrows(IllegalStateException.class, () -> ShardCollection.openBackend(threads -> {
                if (thrown instanceof Error error) {
                    throw error;
                }
                throw (RuntimeException) thrown;
            }, 1, "worker-7"));
            assertTrue(e.getMessage().startsWith("executor on worker-7 has no usable OpenBLAS: OpenBLAS could not be "
                    + "loaded; tried default names"), e.getMessage());
            assertTrue(e.getMessage().contains("spark.executorEnv.CURVATURE_OPENBLAS"), e.getMessage());
        }
    }
}
