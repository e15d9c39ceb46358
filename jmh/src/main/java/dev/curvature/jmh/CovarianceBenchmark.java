package dev.curvature.jmh;

import dev.curvature.engine.CovarianceAccumulator;
import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.engine.Transpose;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The K-FAC hot path: one batch X (rows × dim, F32) folded into a float64 covariance sum, against a plain SGEMM
 * XᵀX of the same size measured in the same run. Useful work: n(n+1)k flops for the covariance (the upper
 * triangle), 2n²k for the GEMM (which computes both halves).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 4, time = 4)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class CovarianceBenchmark {
    @Param({"768", "3072"})
    public int dim;

    @Param({"8192"})
    public int rows;

    @Param({"2"})
    public int threads;

    private Arena arena;
    private CpuBackend backend;
    private Tensor x;
    private Tensor gemmOut;
    private CovarianceAccumulator mixed;
    private CovarianceAccumulator exact;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        backend = new CpuBackend(threads);
        x = backend.allocate(arena, DType.F32, rows, dim);
        Random random = new Random(1);
        float[] row = new float[dim];
        for (long r = 0; r < rows; r++) {
            for (int c = 0; c < dim; c++) {
                row[c] = (float) random.nextGaussian();
            }
            java.lang.foreign.MemorySegment.copy(row, 0, x.segment(), java.lang.foreign.ValueLayout.JAVA_FLOAT,
                    r * dim * 4L, dim);
        }
        gemmOut = backend.allocate(arena, DType.F32, dim, dim);
        mixed = new CovarianceAccumulator(backend, dim, CovariancePrecision.F32_WITH_F64_SUMS, "bench.A");
        exact = new CovarianceAccumulator(backend, dim, CovariancePrecision.F64_EXACT, "bench.A64");
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        mixed.close();
        exact.close();
        backend.close();
        arena.close();
    }

    /**
     * The accumulator's path: the batch's SSYRK into F32 scratch (at 8192 × 768 on 2 threads, two row blocks of 4096
     * rows, one single-threaded SSYRK per core; at 3072 column bands), then the upper triangle added into the F64 sum.
     */
    @Benchmark
    public void covarianceF32WithF64Sums() {
        mixed.accumulate(x, 1.0);
    }

    /** The audit mode: the batch widened to F64, DSYRK into the F64 sum. */
    @Benchmark
    public void covarianceF64Exact() {
        exact.accumulate(x, 1.0);
    }

    /** One SSYRK of the whole batch (column bands, one per thread) into F32 scratch, no fold. */
    @Benchmark
    public void ssyrkOnly() {
        backend.syrkUpper(gemmOut, x, 1.0, 0.0);
    }

    /** Baseline: SGEMM C = XᵀX (both triangles) of the same batch. */
    @Benchmark
    public void sgemmSameSize() {
        backend.gemm(gemmOut, x, Transpose.TRANSPOSED, x, Transpose.NONE, 1.0, 0.0);
    }
}
