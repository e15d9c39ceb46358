package dev.curvature.engine;

import dev.curvature.bindings.lapacke.Lapacke;
import dev.curvature.bindings.openblas.OpenBlas;
import dev.curvature.bindings.openblas.OpenBlasThreadTimeout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The CPU backend: GEMM and SYRK in OpenBLAS, eigendecompositions in LAPACK ({@code ?syevd}), elementwise
 * kernels in Java over off-heap memory, threaded over a small pool.
 */
public final class CpuBackend implements Backend {
    private static final double SQRT_2_OVER_PI = Math.sqrt(2.0 / Math.PI);
    private static final double GELU_CUBIC = 0.044715;
    /** Elements per pass of the split exp loops over long rows (8 KiB of doubles: the passes stay in L1). */
    private static final int EXP_CHUNK = 1024;
    /** Batched products below this many flops each run one per thread, single-threaded ({@link #gemmBatched}). */
    private static final double SMALL_GEMM_FLOPS = 1 << 27;
    /** SYRKs from this dimension up run as column bands, one per thread ({@link #syrkUpper}). */
    private static final long SYRK_BAND_MIN_DIM = 256;
    /** Band edges are multiples of this (whole microkernel tiles; 16 floats = one AVX-512 register). */
    private static final long SYRK_BAND_ALIGN = 16;

    private final OpenBlas blas;
    private final ParallelLoop loop;

    /** A backend with one worker per available processor (or $OPENBLAS_NUM_THREADS when set). */
    public CpuBackend() {
        this(defaultThreads());
    }

    /** A backend with {@code threads} workers for both OpenBLAS and the Java kernels. */
    public CpuBackend(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("thread count must be >= 1, got " + threads);
        }
        this.blas = OpenBlas.get();
        blas.setNumThreads(threads);
        this.loop = new ParallelLoop(threads);
    }

    /**
     * OpenBLAS's thread count is process-wide: another backend (say a 1-thread one used to write a checkpoint) may
     * have changed it since this one was made. Re-assert ours before BLAS/LAPACK work (a cheap global read).
     */
    private void ensureBlasThreads() {
        if (blas.numThreads() != loop.threads()) {
            blas.setNumThreads(loop.threads());
        }
    }

    /** The worker count of {@link #CpuBackend()}: $OPENBLAS_NUM_THREADS when set, else the available processors. */
    public static int defaultThreads() {
        String env = System.getenv("OPENBLAS_NUM_THREADS");
        if (env != null) {
            try {
                int n = Integer.parseInt(env.trim());
                if (n > 0) {
                    return n;
                }
            } catch (NumberFormatException ignored) {
                // fall through to the processor count: a malformed variable should not stop the program
            }
        }
        return Runtime.getRuntime().availableProcessors();
    }

    public int threads() {
        return loop.threads();
    }

    @Override
    public String name() {
        return "cpu (" + blas.config().trim() + ", " + loop.threads() + " threads, workers spin "
                + OpenBlasThreadTimeout.inEffect() + ", exp: " + ExpKernel.description() + ")";
    }

    @Override
    public Device device() {
        return Device.HOST;
    }

    @Override
    public Tensor allocate(Arena arena, DType dtype, long... shape) {
        return Tensor.allocate(arena, dtype, shape);
    }

    // ---- data movement -------------------------------------------------------------------------------------

    @Override
    public void copy(Tensor dst, Tensor src) {
        if (src.rank() == 2 && src.dim(0) > 1 && src.dim(1) > 1 && src.stride(0) == 1 && dst.sameShape(src)) {
            copyTransposedView(dst, src);
            return;
        }
        ElementBlocks blocks = ElementBlocks.of("copy", dst, src);
        if (dst.dtype() == src.dtype() && dst.isContiguous() && src.isContiguous()) {
            MemorySegment.copy(src.segment(), 0, dst.segment(), 0, src.size() * src.dtype().byteSize());
            return;
        }
        forBlocks(blocks, (block, length, buffers) -> {
            src.dtype().read(src.storage(), blocks.start(src, block), buffers[0], 0, length);
            dst.dtype().write(dst.storage(), blocks.start(dst, block), buffers[0], 0, length);
        });
    }

    /** dst (R, C) = src (R, C) where src is a transposed view (stride 1 down its columns): tiled transpose. */
    private void copyTransposedView(Tensor dst, Tensor src) {
        Tensor stored = src.transpose(0, 1);     // (C, R) row-major storage of src
        ElementBlocks.of("copy", dst);           // dst must be host and row-structured
        if (!(dst.isContiguous() || dst.stride(1) == 1)) {
            throw new IllegalArgumentException("copy: destination " + dst.describe() + " must have rows in memory");
        }
        long rows = dst.dim(0);
        long cols = dst.dim(1);
        final int tile = 64;
        long rowTiles = (rows + tile - 1) / tile;
        loop.forRange(rowTiles, rows * cols, ParallelLoop.shareable(dst, src), (from, to) -> {
            double[] block = new double[tile * tile];
            double[] line = new double[tile];
            for (long rt = from; rt < to; rt++) {
                long r0 = rt * tile;
                int h = (int) Math.min(tile, rows - r0);
                for (long c0 = 0; c0 < cols; c0 += tile) {
                    int w = (int) Math.min(tile, cols - c0);
                    for (int c = 0; c < w; c++) {   // stored row c0+c holds src column c0+c
                        stored.dtype().read(stored.storage(), stored.offset() + (c0 + c) * stored.stride(0) + r0,
                                block, c * tile, h);
                    }
                    for (int r = 0; r < h; r++) {
                        for (int c = 0; c < w; c++) {
                            line[c] = block[c * tile + r];
                        }
                        dst.dtype().write(dst.storage(), dst.offset() + (r0 + r) * dst.stride(0) + c0, line, 0, w);
                    }
                }
            }
        });
    }

    @Override
    public void fill(Tensor dst, double value) {
        ElementBlocks blocks = ElementBlocks.of("fill", dst);
        forBlocks(blocks, (block, length, buffers) -> {
            Arrays.fill(buffers[0], 0, length, value);
            dst.dtype().write(dst.storage(), blocks.start(dst, block), buffers[0], 0, length);
        });
    }

    @Override
    public void writeInts(Tensor dst, int[] values) {
        requireContiguousInts("writeInts", dst, values.length);
        MemorySegment.copy(values, 0, dst.segment(), ValueLayout.JAVA_INT_UNALIGNED, 0, values.length);
    }

    @Override
    public int[] readInts(Tensor src) {
        requireContiguousInts("readInts", src, src.size());
        int[] values = new int[(int) src.size()];
        MemorySegment.copy(src.segment(), ValueLayout.JAVA_INT_UNALIGNED, 0, values, 0, values.length);
        return values;
    }

    // ---- BLAS --------------------------------------------------------------------------------------------------

    /**
     * A 2-D tensor as a BLAS operand: row-major storage with leading dimension {@code ld}, or — for a transposed
     * view (first dimension has stride 1) — the row-major storage of its transpose, flagged {@code storedTransposed}.
     */
    private record MatrixOperand(MemorySegment segment, long storedRows, long storedCols, long ld,
                                 boolean storedTransposed) {
        static MatrixOperand of(String op, String role, Tensor t) {
            if (t.rank() != 2) {
                throw new IllegalArgumentException(op + ": " + role + " must be 2-D, got " + t.describe());
            }
            if (t.device() != Device.HOST) {
                throw new IllegalArgumentException(op + ": " + role + " " + t.describe() + " is not in host memory");
            }
            long rows = t.dim(0);
            long cols = t.dim(1);
            if (t.stride(1) == 1 || cols <= 1) {
                long ld = rows <= 1 ? Math.max(cols, 1) : t.stride(0);
                return new MatrixOperand(t.segment(), rows, cols, ld, false);
            }
            if (t.stride(0) == 1 || rows <= 1) {
                long ld = cols <= 1 ? Math.max(rows, 1) : t.stride(1);
                return new MatrixOperand(t.segment(), cols, rows, ld, true);
            }
            throw new IllegalArgumentException(op + ": " + role + " " + t.describe()
                    + " has no unit stride in either dimension");
        }
    }

    @Override
    public void gemm(Tensor c, Tensor a, Transpose opA, Tensor b, Transpose opB, double alpha, double beta) {
        DType dtype = requireSameComputeType("gemm", c, a, b);
        checkGemmShapes(c, a, opA, b, opB);
        long m = opA == Transpose.NONE ? a.dim(0) : a.dim(1);
        long k = opA == Transpose.NONE ? a.dim(1) : a.dim(0);
        long n = opB == Transpose.NONE ? b.dim(1) : b.dim(0);
        ensureBlasThreads();
        gemmOnCallingThreadCount(c, a, opA, b, opB, alpha, beta, dtype, m, n, k);
    }

    /** The BLAS call of {@link #gemm}, shapes already checked, at whatever thread count OpenBLAS has now. */
    private void gemmOnCallingThreadCount(Tensor c, Tensor a, Transpose opA, Tensor b, Transpose opB, double alpha,
                                          double beta, DType dtype, long m, long n, long k) {
        MatrixOperand ma = MatrixOperand.of("gemm", "A", a);
        MatrixOperand mb = MatrixOperand.of("gemm", "B", b);
        MatrixOperand mc = MatrixOperand.of("gemm", "C", c);
        if (mc.storedTransposed()) {
            throw new IllegalArgumentException("gemm: output C " + c.describe() + " must be row-major (stride 1 in"
                    + " its last dimension)");
        }
        boolean transA = (opA == Transpose.TRANSPOSED) != ma.storedTransposed();
        boolean transB = (opB == Transpose.TRANSPOSED) != mb.storedTransposed();
        int mi = int32("gemm", "m", m);
        int ni = int32("gemm", "n", n);
        int ki = int32("gemm", "k", k);
        if (dtype == DType.F32) {
            blas.sgemm(transA, transB, mi, ni, ki, (float) alpha, ma.segment(), int32("gemm", "lda", ma.ld()),
                    mb.segment(), int32("gemm", "ldb", mb.ld()), (float) beta, mc.segment(), int32("gemm", "ldc", mc.ld()));
        } else {
            blas.dgemm(transA, transB, mi, ni, ki, alpha, ma.segment(), int32("gemm", "lda", ma.ld()),
                    mb.segment(), int32("gemm", "ldb", mb.ld()), beta, mc.segment(), int32("gemm", "ldc", mc.ld()));
        }
    }

    @Override
    public void gemmBatched(Tensor c, Tensor a, Transpose opA, Tensor b, Transpose opB, double alpha, double beta) {
        int rank = c.rank();
        boolean sameBatch = rank >= 3 && a.rank() == rank && b.rank() == rank;
        for (int d = 0; sameBatch && d < rank - 2; d++) {
            sameBatch = a.dim(d) == c.dim(d) && b.dim(d) == c.dim(d);
        }
        if (!sameBatch) {
            throw new IllegalArgumentException("gemmBatched: need tensors of one rank >= 3 with the same leading batch "
                    + "sizes, got C " + c.describe() + ", A " + a.describe() + ", B " + b.describe());
        }
        int batchDims = rank - 2;
        long batch = batchCount(c, batchDims);
        if (batch == 0) {
            return;
        }
        long m = opA == Transpose.NONE ? a.dim(-2) : a.dim(-1);
        long k = opA == Transpose.NONE ? a.dim(-1) : a.dim(-2);
        long n = opB == Transpose.NONE ? b.dim(-1) : b.dim(-2);
        double flopsEach = 2.0 * m * n * k;
        boolean shareable = ParallelLoop.shareable(c, a, b);
        if (loop.threads() < 2 || batch < 2 || flopsEach >= SMALL_GEMM_FLOPS || !shareable) {
            for (long i = 0; i < batch; i++) {
                gemm(batchEntry(c, i, batchDims), batchEntry(a, i, batchDims), opA, batchEntry(b, i, batchDims), opB,
                        alpha, beta);
            }
            return;
        }
        // Small products (attention's per-head (T, hs) × (hs, T)): OpenBLAS would split each over its threads and
        // wait at the end of every one; whole products per thread, each single-threaded, keep both cores busy.
        DType dtype = requireSameComputeType("gemmBatched", c, a, b);
        checkGemmShapes(batchEntry(c, 0, batchDims), batchEntry(a, 0, batchDims), opA, batchEntry(b, 0, batchDims),
                opB);
        withSingleThreadedBlas(batch, (from, to) -> {
            for (long i = from; i < to; i++) {
                gemmOnCallingThreadCount(batchEntry(c, i, batchDims), batchEntry(a, i, batchDims), opA,
                        batchEntry(b, i, batchDims), opB, alpha, beta, dtype, m, n, k);
            }
        });
    }

    /** How many matrices the leading {@code batchDims} dimensions of {@code t} hold. */
    private static long batchCount(Tensor t, int batchDims) {
        long count = 1;
        for (int d = 0; d < batchDims; d++) {
            count *= t.dim(d);
        }
        return count;
    }

    /** The matrix at flat batch index {@code index} (row-major over the leading {@code batchDims} dimensions). */
    private static Tensor batchEntry(Tensor t, long index, int batchDims) {
        Tensor entry = t;
        long rest = index;
        long stride = batchCount(t, batchDims);
        for (int d = 0; d < batchDims; d++) {
            stride /= t.dim(d);
            entry = entry.select(0, rest / stride);
            rest %= stride;
        }
        return entry;
    }

    /** The shape check of {@link #gemm}: C (m, n) = op(A) (m, k) · op(B) (k, n). */
    private static void checkGemmShapes(Tensor c, Tensor a, Transpose opA, Tensor b, Transpose opB) {
        long m = opA == Transpose.NONE ? a.dim(0) : a.dim(1);
        long k = opA == Transpose.NONE ? a.dim(1) : a.dim(0);
        long kb = opB == Transpose.NONE ? b.dim(0) : b.dim(1);
        long n = opB == Transpose.NONE ? b.dim(1) : b.dim(0);
        if (a.rank() != 2 || b.rank() != 2 || c.rank() != 2 || k != kb || c.dim(0) != m || c.dim(1) != n) {
            throw new IllegalArgumentException("gemm: shapes do not chain: C " + c.describe() + " = op" + opA + "(A "
                    + a.describe() + ") · op" + opB + "(B " + b.describe() + ")");
        }
    }

    /**
     * Runs {@code body} over [0, tasks) split across this backend's threads, each task calling OpenBLAS with one
     * thread, then gives OpenBLAS its thread count back. For work this backend partitions itself (small batched
     * products, SYRK column bands): a single-threaded call on each core beats one threaded call after another,
     * which joins its threads at the end of every call.
     */
    private void withSingleThreadedBlas(long tasks, ParallelLoop.RangeBody body) {
        blas.setNumThreads(1);
        try {
            // callers checked shareability; the work estimate is "always worth threads": every task is a BLAS call
            loop.forRange(tasks, Long.MAX_VALUE, true, body);
        } finally {
            blas.setNumThreads(loop.threads());
        }
    }

    @Override
    public int syrkRowBlocks(long rows, long n) {
        return syrkRowBlocks(loop.threads(), rows, n);
    }

    /**
     * {@link #syrkRowBlocks(long, long)} of a backend with {@code threads} workers (for memory plans made before
     * the backend): one block per thread where every block has at least n rows, else 1.
     */
    public static int syrkRowBlocks(int threads, long rows, long n) {
        // Measured on 2 cores (AVX-512) with float32 batches: row blocks of k ≥ n rows, one single-threaded SYRK per
        // core, beat the column bands of syrkUpper by 5–7 % at n = 768 (k = 2048 … 8192) and tie at n = 3072 — each
        // core streams only its own rows and runs the whole triangle at single-threaded SYRK efficiency. Shorter
        // blocks lose what they gain to the extra (n, n) pass that sums the blocks.
        return threads >= 2 && n >= SYRK_BAND_MIN_DIM && rows >= (long) threads * n ? threads : 1;
    }

    @Override
    public void syrkUpper(Tensor c, Tensor x, double alpha, double beta) {
        if (c.rank() == 3) {
            syrkUpperRowBlocks(c, x, alpha, beta);
            return;
        }
        DType dtype = requireSameComputeType("syrkUpper", c, x);
        long n = x.rank() == 2 ? x.dim(1) : -1;
        if (x.rank() != 2 || c.rank() != 2 || c.dim(0) != n || c.dim(1) != n) {
            throw new IllegalArgumentException("syrkUpper: C " + c.describe() + " must be (n, n) for X "
                    + x.describe() + " (k, n)");
        }
        ensureBlasThreads();
        MatrixOperand mx = MatrixOperand.of("syrkUpper", "X", x);
        MatrixOperand mc = MatrixOperand.of("syrkUpper", "C", c);
        if (mx.storedTransposed() || mc.storedTransposed()) {
            throw new IllegalArgumentException("syrkUpper: X " + x.describe() + " and C " + c.describe()
                    + " must be row-major");
        }
        int ni = int32("syrkUpper", "n", n);
        int ki = int32("syrkUpper", "k", x.dim(0));
        int bands = loop.threads();
        if (bands < 2 || n < SYRK_BAND_MIN_DIM || !ParallelLoop.shareable(c, x)) {
            syrkOnCallingThreadCount(c, x, alpha, beta, dtype, ni, ki);
            return;
        }
        // OpenBLAS's threaded SYRK splits unevenly: on 2 cores at d = 768 it reached 73–85 % of the SGEMM rate
        // (useful flops), single-threaded ~90 % of the single-threaded SGEMM. So: column bands of equal work, one
        // per thread, each single-threaded — band t covers columns [e_t, e_{t+1}) of the upper triangle,
        // the square block above its diagonal (a GEMM, rows [0, e_t)) and its diagonal triangle (a SYRK). Band t
        // holds (e_{t+1}² − e_t²)/2 products, so e_t = n·√(t/T) balances them.
        long[] edges = new long[bands + 1];
        for (int t = 1; t < bands; t++) {
            edges[t] = Math.min(n, Math.round(n * Math.sqrt((double) t / bands) / SYRK_BAND_ALIGN) * SYRK_BAND_ALIGN);
        }
        edges[bands] = n;
        withSingleThreadedBlas(bands, (from, to) -> {
            for (long t = from; t < to; t++) {
                long e0 = edges[(int) t];
                long e1 = edges[(int) t + 1];
                if (e1 <= e0) {
                    continue;
                }
                Tensor bandColumns = x.slice(1, e0, e1);                              // (k, e1 − e0)
                if (e0 > 0) {
                    gemmOnCallingThreadCount(c.slice(0, 0, e0).slice(1, e0, e1), x.slice(1, 0, e0),
                            Transpose.TRANSPOSED, bandColumns, Transpose.NONE, alpha, beta, dtype, e0, e1 - e0,
                            x.dim(0));
                }
                syrkOnCallingThreadCount(c.slice(0, e0, e1).slice(1, e0, e1), bandColumns, alpha, beta, dtype,
                        (int) (e1 - e0), ki);
            }
        });
    }

    /** {@link #syrkUpper} with C (p, n, n): C[i] = alpha · X_iᵀ X_i + beta · C[i] over p row blocks of X. */
    private void syrkUpperRowBlocks(Tensor c, Tensor x, double alpha, double beta) {
        DType dtype = requireSameComputeType("syrkUpper", c, x);
        long n = x.rank() == 2 ? x.dim(1) : -1;
        if (x.rank() != 2 || c.dim(1) != n || c.dim(2) != n) {
            throw new IllegalArgumentException("syrkUpper: C " + c.describe() + " must be (p, n, n) for X "
                    + x.describe() + " (k, n)");
        }
        long blocks = c.dim(0);
        long k = x.dim(0);
        if (blocks < 1 || k < blocks) {
            throw new IllegalArgumentException("syrkUpper: X " + x.describe() + " has fewer rows than the " + blocks
                    + " row blocks of C " + c.describe());
        }
        ensureBlasThreads();
        // checked here, not in the workers: every block has C's strides
        if (MatrixOperand.of("syrkUpper", "X", x).storedTransposed()
                || MatrixOperand.of("syrkUpper", "C[0]", c.select(0, 0)).storedTransposed()) {
            throw new IllegalArgumentException("syrkUpper: X " + x.describe() + " and C " + c.describe()
                    + " must be row-major");
        }
        int ni = int32("syrkUpper", "n", n);
        boolean concurrent = blocks >= 2 && loop.threads() >= 2 && ParallelLoop.shareable(c, x);
        ParallelLoop.RangeBody body = (from, to) -> {
            for (long b = from; b < to; b++) {
                Tensor block = c.select(0, b);                                        // (n, n)
                long r0 = b * k / blocks;
                long r1 = (b + 1) * k / blocks;
                if (concurrent) {
                    syrkOnCallingThreadCount(block, x.slice(0, r0, r1), alpha, beta, dtype, ni,
                            int32("syrkUpper", "k", r1 - r0));
                } else {
                    syrkUpper(block, x.slice(0, r0, r1), alpha, beta);
                }
            }
        };
        if (concurrent) {
            withSingleThreadedBlas(blocks, body);
        } else {
            body.run(0, blocks);
        }
    }

    /** The BLAS call of {@link #syrkUpper}, shapes already checked, at whatever thread count OpenBLAS has now. */
    private void syrkOnCallingThreadCount(Tensor c, Tensor x, double alpha, double beta, DType dtype, int n, int k) {
        MatrixOperand mx = MatrixOperand.of("syrkUpper", "X", x);
        MatrixOperand mc = MatrixOperand.of("syrkUpper", "C", c);
        if (dtype == DType.F32) {
            blas.ssyrkUpperXtX(n, k, (float) alpha, mx.segment(), int32("syrkUpper", "ldx", mx.ld()), (float) beta,
                    mc.segment(), int32("syrkUpper", "ldc", mc.ld()));
        } else {
            blas.dsyrkUpperXtX(n, k, alpha, mx.segment(), int32("syrkUpper", "ldx", mx.ld()), beta,
                    mc.segment(), int32("syrkUpper", "ldc", mc.ld()));
        }
    }

    @Override
    public void addUpper(Tensor dst, Tensor src, double alpha) {
        requireSquareRowMajor("addUpper", dst);
        Tensor[] parts = new Tensor[src.rank() == 3 ? (int) src.dim(0) : 1];
        for (int b = 0; b < parts.length; b++) {
            parts[b] = src.rank() == 3 ? src.select(0, b) : src;
            requireSquareRowMajor("addUpper", parts[b]);
            if (!dst.sameShape(parts[b])) {
                throw new IllegalArgumentException("addUpper: shape mismatch " + dst.describe() + " vs "
                        + src.describe());
            }
        }
        long n = dst.dim(0);
        loop.forTriangleRows(n, ParallelLoop.shareable(dst, src), (from, to) -> {
            double[] s = new double[(int) n];
            double[] sum = parts.length > 1 ? new double[(int) n] : s;
            double[] d = new double[(int) n];
            for (long i = from; i < to; i++) {
                int len = (int) (n - i);
                for (int b = 0; b < parts.length; b++) {
                    Tensor part = parts[b];
                    part.dtype().read(part.storage(), part.offset() + i * part.stride(0) + i, b == 0 ? sum : s, 0,
                            len);
                    if (b > 0) {
                        for (int j = 0; j < len; j++) {
                            sum[j] += s[j];
                        }
                    }
                }
                long dstAt = dst.offset() + i * dst.stride(0) + i;
                dst.dtype().read(dst.storage(), dstAt, d, 0, len);
                for (int j = 0; j < len; j++) {
                    d[j] += alpha * sum[j];
                }
                dst.dtype().write(dst.storage(), dstAt, d, 0, len);
            }
        });
    }

    @Override
    public void symmetrizeFromUpper(Tensor a) {
        requireSquareRowMajor("symmetrizeFromUpper", a);
        long n = a.dim(0);
        final int tile = 64;
        long tiles = (n + tile - 1) / tile;
        // Tiles keep both the row reads of the upper triangle and the row writes of the lower one in cache.
        loop.forRange(tiles, n * n, ParallelLoop.shareable(a), (fromTile, toTile) -> {
            double[] row = new double[tile];
            for (long ti = fromTile; ti < toTile; ti++) {
                long i0 = ti * tile;
                long i1 = Math.min(n, i0 + tile);
                for (long j0 = 0; j0 <= i0; j0 += tile) {
                    long j1 = Math.min(n, j0 + tile);
                    for (long i = i0; i < i1; i++) {
                        long jEnd = Math.min(j1, i);
                        int len = (int) (jEnd - j0);
                        if (len <= 0) {
                            continue;
                        }
                        for (long j = j0; j < jEnd; j++) {
                            row[(int) (j - j0)] = a.dtype().get(a.storage(), a.offset() + j * a.stride(0) + i);
                        }
                        a.dtype().write(a.storage(), a.offset() + i * a.stride(0) + j0, row, 0, len);
                    }
                }
            }
        });
    }

    // ---- LAPACK ------------------------------------------------------------------------------------------------

    @Override
    public SymmetricEigen eigh(Arena arena, Tensor a, boolean clipNegatives) {
        requireSquareRowMajor("eigh", a);
        DType dtype = a.dtype();
        if (!dtype.isCompute()) {
            throw new IllegalArgumentException("eigh: " + a.describe() + " must be F32 or F64");
        }
        requireFinite(a, "eigendecomposition");
        ensureBlasThreads();
        int n = int32("eigh", "n", a.dim(0));
        Tensor values = allocate(arena, dtype, n).named(a.name() + ".eigenvalues");
        Tensor vectors = allocate(arena, dtype, n, n).named(a.name() + ".eigenvectors");
        try (Arena work = Arena.ofShared()) {
            // LAPACK works column-major; the upper triangle of our row-major matrix is the lower triangle of the
            // same bytes read column-major, hence uplo 'L'.
            Tensor columnMajor = allocate(work, dtype, n, n);
            copy(columnMajor, a);
            Tensor ascending = allocate(work, dtype, n);
            if (dtype == DType.F32) {
                Lapacke.get().ssyevd('L', n, columnMajor.segment(), ascending.segment());
            } else {
                Lapacke.get().dsyevd('L', n, columnMajor.segment(), ascending.segment());
            }
            // Column j of the column-major result is row j of the row-major bytes: eigenvector of ascending[j].
            // Output column k (descending) is eigenvector n−1−k, i.e. vectors[i][k] = columnMajor[n−1−k][i].
            reverseTransposeInto(vectors, columnMajor);
            double[] raw = ascending.toDoubleArray();
            double[] descending = new double[n];
            int negatives = 0;
            double mostNegative = 0;
            for (int k = 0; k < n; k++) {
                double v = raw[n - 1 - k];
                descending[k] = v;
                if (v < 0) {
                    negatives++;
                    mostNegative = Math.min(mostNegative, v);
                }
            }
            double[] rawDescending = descending.clone();
            if (clipNegatives) {
                for (int k = 0; k < n; k++) {
                    descending[k] = Math.max(descending[k], 0.0);
                }
            }
            dtype.write(values.storage(), values.offset(), descending, 0, n);
            double[] residualAndOrthogonality = decompositionErrors(a, vectors, rawDescending);
            EigenQuality quality = new EigenQuality(a.name(), n, residualAndOrthogonality[0],
                    residualAndOrthogonality[1], negatives, mostNegative, clipNegatives);
            return new SymmetricEigen(values, vectors, quality);
        }
    }

    /** Writes out[i][k] = src[n−1−k][i] for (n, n) row-major tensors, in tiles. */
    private void reverseTransposeInto(Tensor out, Tensor src) {
        long n = out.dim(0);
        final int tile = 32;
        long tiles = (n + tile - 1) / tile;
        loop.forRange(tiles, n * n, ParallelLoop.shareable(out, src), (fromTile, toTile) -> {
            double[] columns = new double[(int) (tile * n)];
            double[] row = new double[tile];
            for (long t = fromTile; t < toTile; t++) {
                long k0 = t * tile;
                int width = (int) Math.min(tile, n - k0);
                for (int c = 0; c < width; c++) {
                    long sourceRow = n - 1 - (k0 + c);
                    src.dtype().read(src.storage(), src.offset() + sourceRow * n, columns, (int) (c * n), (int) n);
                }
                for (long i = 0; i < n; i++) {
                    for (int c = 0; c < width; c++) {
                        row[c] = columns[(int) (c * n + i)];
                    }
                    out.dtype().write(out.storage(), out.offset() + i * n + k0, row, 0, width);
                }
            }
        });
    }

    /**
     * {‖A V − V Λ‖_F / ‖A‖_F, ‖VᵀV − I‖_F / √n} in float64, with A rebuilt symmetric from its upper triangle.
     */
    private double[] decompositionErrors(Tensor a, Tensor vectors, double[] lambda) {
        int n = (int) a.dim(0);
        try (Arena work = Arena.ofShared()) {
            Tensor a64 = allocate(work, DType.F64, n, n);
            copy(a64, a);
            symmetrizeFromUpper(a64);
            Tensor v64 = allocate(work, DType.F64, n, n);
            copy(v64, vectors);
            Tensor av = allocate(work, DType.F64, n, n);
            gemm(av, a64, Transpose.NONE, v64, Transpose.NONE, 1.0, 0.0);
            double[] sums = new double[2]; // residual², ‖A‖²
            double[][] partial = new double[n][];
            loop.forRange(n, (long) n * n, ParallelLoop.shareable(av, v64, a64), (from, to) -> {
                double[] avRow = new double[n];
                double[] vRow = new double[n];
                double[] aRow = new double[n];
                for (long i = from; i < to; i++) {
                    DType.F64.read(av.storage(), i * n, avRow, 0, n);
                    DType.F64.read(v64.storage(), i * n, vRow, 0, n);
                    DType.F64.read(a64.storage(), i * n, aRow, 0, n);
                    double r = 0;
                    double norm = 0;
                    for (int k = 0; k < n; k++) {
                        double e = avRow[k] - vRow[k] * lambda[k];
                        r += e * e;
                        norm += aRow[k] * aRow[k];
                    }
                    partial[(int) i] = new double[]{r, norm};
                }
            });
            Tensor gram = allocate(work, DType.F64, n, n);
            syrkUpper(gram, v64, 1.0, 0.0);
            double orthogonality = 0;
            double[] gramRow = new double[n];
            for (int i = 0; i < n; i++) {
                sums[0] += partial[i][0];
                sums[1] += partial[i][1];
                DType.F64.read(gram.storage(), (long) i * n + i, gramRow, 0, n - i);
                double diagonal = gramRow[0] - 1.0;
                orthogonality += diagonal * diagonal;
                for (int j = 1; j < n - i; j++) {
                    orthogonality += 2 * gramRow[j] * gramRow[j]; // the strict upper triangle stands for both halves
                }
            }
            double residual = sums[1] == 0 ? Math.sqrt(sums[0]) : Math.sqrt(sums[0] / sums[1]);
            return new double[]{residual, Math.sqrt(orthogonality / n)};
        }
    }

    // ---- elementwise and reductions ----------------------------------------------------------------------------

    /** A kernel body over one block; {@code buffers} are 4 per-thread scratch rows of the block length. */
    @FunctionalInterface
    private interface BlockBody {
        void run(long block, int length, double[][] buffers);
    }

    private void forBlocks(ElementBlocks blocks, BlockBody body) {
        long work = blocks.count() * blocks.maxLength();
        loop.forRange(blocks.count(), work, blocks.shareable(), (from, to) -> {
            double[][] buffers = new double[5][blocks.maxLength()];
            for (long block = from; block < to; block++) {
                body.run(block, blocks.length(block), buffers);
            }
        });
    }

    @FunctionalInterface
    private interface BinaryOp {
        void apply(double[] a, double[] b, int length);   // writes the result into a
    }

    private void binary(String op, Tensor out, Tensor a, Tensor b, BinaryOp f) {
        requireCompute(op, out, a, b);
        ElementBlocks blocks = ElementBlocks.of(op, out, a, b);
        forBlocks(blocks, (block, length, buffers) -> {
            a.dtype().read(a.storage(), blocks.start(a, block), buffers[0], 0, length);
            b.dtype().read(b.storage(), blocks.start(b, block), buffers[1], 0, length);
            f.apply(buffers[0], buffers[1], length);
            out.dtype().write(out.storage(), blocks.start(out, block), buffers[0], 0, length);
        });
    }

    @Override
    public void add(Tensor out, Tensor a, Tensor b) {
        binary("add", out, a, b, (x, y, len) -> {
            for (int i = 0; i < len; i++) {
                x[i] += y[i];
            }
        });
    }

    @Override
    public void mul(Tensor out, Tensor a, Tensor b) {
        binary("mul", out, a, b, (x, y, len) -> {
            for (int i = 0; i < len; i++) {
                x[i] *= y[i];
            }
        });
    }

    @Override
    public void scale(Tensor out, Tensor a, double alpha) {
        requireCompute("scale", out, a);
        ElementBlocks blocks = ElementBlocks.of("scale", out, a);
        forBlocks(blocks, (block, length, buffers) -> {
            double[] x = buffers[0];
            a.dtype().read(a.storage(), blocks.start(a, block), x, 0, length);
            for (int i = 0; i < length; i++) {
                x[i] *= alpha;
            }
            out.dtype().write(out.storage(), blocks.start(out, block), x, 0, length);
        });
    }

    @Override
    public void axpy(Tensor y, Tensor x, double alpha) {
        binary("axpy", y, y, x, (acc, v, len) -> {
            for (int i = 0; i < len; i++) {
                acc[i] += alpha * v[i];
            }
        });
    }

    /** A row kernel: reads row r of its inputs into buffers, computes, writes outputs. */
    @FunctionalInterface
    private interface RowBody {
        void run(long row, double[][] buffers);
    }

    /** Runs {@code body} over the rows of an (N, C) problem with per-thread buffers of length C. */
    private void forRows(long rows, long cols, boolean shareable, RowBody body) {
        if (cols > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("rows of " + cols + " elements are too long");
        }
        loop.forRange(rows, rows * cols, shareable, (from, to) -> {
            double[][] buffers = new double[2][(int) cols];
            for (long r = from; r < to; r++) {
                body.run(r, buffers);
            }
        });
    }

    /** Element index where row r of a row-structured tensor starts (contiguous: any rank, viewed as (N, C)). */
    private static long rowStart(Tensor t, long r) {
        return t.offset() + r * (t.isContiguous() ? t.dim(-1) : t.stride(0));
    }

    /** (N, C) of a tensor whose rows are consecutive in memory: contiguous of any rank ≥ 1, or a 2-D row view. */
    private static long[] rowsAndCols(String op, Tensor t) {
        if (t.device() != Device.HOST) {
            throw new IllegalArgumentException(op + ": " + t.describe() + " is not in host memory");
        }
        if (t.rank() == 0) {
            throw new IllegalArgumentException(op + ": " + t.describe() + " has no last dimension");
        }
        long cols = t.dim(-1);
        if (t.isContiguous()) {
            return new long[]{cols == 0 ? 0 : t.size() / cols, cols};
        }
        if (t.rank() == 2 && t.stride(1) == 1) {
            return new long[]{t.dim(0), cols};
        }
        throw new IllegalArgumentException(op + ": " + t.describe() + " must have consecutive rows");
    }

    private void rowReduction(String op, Tensor out, Tensor x, boolean max) {
        requireCompute(op, out, x);
        long[] nc = rowsAndCols(op, x);
        if (out.size() != nc[0] || !out.isContiguous()) {
            throw new IllegalArgumentException(op + ": output " + out.describe() + " must be contiguous with "
                    + nc[0] + " elements for input " + x.describe());
        }
        int cols = (int) nc[1];
        forRows(nc[0], nc[1], ParallelLoop.shareable(out, x), (r, buffers) -> {
            double[] row = buffers[0];
            x.dtype().read(x.storage(), rowStart(x, r), row, 0, cols);
            double acc = max ? Double.NEGATIVE_INFINITY : 0.0;
            for (int i = 0; i < cols; i++) {
                acc = max ? Math.max(acc, row[i]) : acc + row[i];
            }
            out.dtype().set(out.storage(), out.offset() + r, acc);
        });
    }

    @Override
    public void rowMax(Tensor out, Tensor x) {
        rowReduction("rowMax", out, x, true);
    }

    @Override
    public void rowSum(Tensor out, Tensor x) {
        rowReduction("rowSum", out, x, false);
    }

    @Override
    public void rowArgmax(Tensor out, Tensor x) {
        requireCompute("rowArgmax", x);
        long[] nc = rowsAndCols("rowArgmax", x);
        requireI32Vector("rowArgmax", out, nc[0], x);
        requireNonEmptyRows("rowArgmax", x, nc);
        int cols = (int) nc[1];
        forRows(nc[0], nc[1], ParallelLoop.shareable(out, x), (r, buffers) -> {
            x.dtype().read(x.storage(), rowStart(x, r), buffers[0], 0, cols);
            out.dtype().set(out.storage(), out.offset() + r * out.stride(0), argmax(buffers[0], cols));
        });
    }

    @Override
    public void rowTopK(Tensor out, Tensor x) {
        requireCompute("rowTopK", x);
        long[] nc = rowsAndCols("rowTopK", x);
        requireNonEmptyRows("rowTopK", x, nc);
        if (out.dtype() != DType.I32 || out.rank() != 2 || out.dim(0) != nc[0] || out.dim(1) > nc[1] || out.dim(1) < 1
                || !out.isContiguous()) {
            throw new IllegalArgumentException("rowTopK: output " + out.describe() + " must be contiguous I32 (N, k) "
                    + "with N = " + nc[0] + " rows and 1 <= k <= " + nc[1] + " for input " + x.describe());
        }
        int cols = (int) nc[1];
        int k = (int) out.dim(1);
        forRows(nc[0], nc[1], ParallelLoop.shareable(out, x), (r, buffers) -> {
            double[] row = buffers[0];
            x.dtype().read(x.storage(), rowStart(x, r), row, 0, cols);
            int[] best = topK(row, cols, k);
            for (int j = 0; j < k; j++) {
                out.dtype().set(out.storage(), out.offset() + r * k + j, best[j]);
            }
        });
    }

    /** Indices of the k largest of row[0, cols) by insertion into a sorted list; NaN ranks last. */
    private static int[] topK(double[] row, int cols, int k) {
        int[] best = new int[k];
        int filled = 0;
        for (int i = 0; i < cols; i++) {
            int slot = filled;
            while (slot > 0 && ranksAbove(row[i], row[best[slot - 1]])) {
                slot--;
            }
            if (slot < k) {
                System.arraycopy(best, slot, best, slot + 1, Math.min(filled, k - 1) - slot);
                best[slot] = i;
                filled = Math.min(filled + 1, k);
            }
        }
        return best;
    }

    /** Whether a later entry a moves above an earlier b: strictly larger, or a number above a NaN. */
    private static boolean ranksAbove(double a, double b) {
        return a > b || (Double.isNaN(b) && !Double.isNaN(a));
    }

    /** Index of the largest non-NaN of row[0, cols), the lowest on ties; 0 when all are NaN. */
    private static int argmax(double[] row, int cols) {
        int arg = -1;
        double best = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < cols; i++) {
            double v = row[i];
            if (!Double.isNaN(v) && (arg < 0 || v > best)) {
                arg = i;
                best = v;
            }
        }
        return Math.max(arg, 0);
    }

    @Override
    public void softmaxRows(Tensor y, Tensor x) {
        requireCompute("softmaxRows", y, x);
        long[] nc = rowsAndCols("softmaxRows", x);
        requireSameRows("softmaxRows", y, x);
        int cols = (int) nc[1];
        forRows(nc[0], nc[1], ParallelLoop.shareable(y, x), (r, buffers) -> {
            double[] row = buffers[0];
            x.dtype().read(x.storage(), rowStart(x, r), row, 0, cols);
            softmaxPrefix(row, cols, 1.0);
            y.dtype().write(y.storage(), rowStart(y, r), row, 0, cols);
        });
    }

    @Override
    public void softmaxRowsBackward(Tensor dx, Tensor dy, Tensor y) {
        requireCompute("softmaxRowsBackward", dx, dy, y);
        long[] nc = rowsAndCols("softmaxRowsBackward", y);
        requireSameRows("softmaxRowsBackward", dx, y);
        requireSameRows("softmaxRowsBackward", dy, y);
        int cols = (int) nc[1];
        forRows(nc[0], nc[1], ParallelLoop.shareable(dx, dy, y), (r, buffers) -> {
            double[] g = buffers[0];
            double[] p = buffers[1];
            dy.dtype().read(dy.storage(), rowStart(dy, r), g, 0, cols);
            y.dtype().read(y.storage(), rowStart(y, r), p, 0, cols);
            softmaxBackwardPrefix(g, p, cols, 1.0);
            dx.dtype().write(dx.storage(), rowStart(dx, r), g, 0, cols);
        });
    }

    @Override
    public void geluTanh(Tensor y, Tensor x) {
        requireCompute("geluTanh", y, x);
        ElementBlocks blocks = ElementBlocks.of("geluTanh", y, x);
        forBlocks(blocks, (block, length, buffers) -> {
            double[] v = buffers[0];
            double[] e = buffers[1];
            x.dtype().read(x.storage(), blocks.start(x, block), v, 0, length);
            geluTanhExp(e, v, length);
            for (int i = 0; i < length; i++) {
                double u = v[i];
                v[i] = 0.5 * u * (1.0 + tanhFromExp(e[i]));
            }
            y.dtype().write(y.storage(), blocks.start(y, block), v, 0, length);
        });
    }

    /**
     * e[i] = exp(2z) for z = √(2/π)·(u + 0.044715·u³), u = v[i]: the exponential of {@link #tanhFromExp}. The exp
     * has a loop of its own so the arithmetic loops around it vectorize (C2 does not vectorize a loop with a call
     * to Math.exp in it); every element sees the same operations in the same order as in one fused loop.
     */
    private static void geluTanhExp(double[] e, double[] v, int length) {
        for (int i = 0; i < length; i++) {
            double u = v[i];
            e[i] = 2.0 * (SQRT_2_OVER_PI * (u + GELU_CUBIC * u * u * u));
        }
        exp(e, length);
    }

    /** x[i] ← exp(x[i]) for i < length ({@link ExpKernel}: Vector API lanes where available). */
    private static void exp(double[] x, int length) {
        ExpKernel.exp(x, 0, length);
    }

    /**
     * tanh(u) = 1 − 2/(e^{2u} + 1), given e^{2u} from {@link ExpKernel}: several times faster than Math.tanh (a software
     * fdlibm routine) and within 2 ulp of it where GELU uses it — the result is added to 1 (forward) or squared and
     * subtracted from 1 (backward), so only its absolute error (≈ 1e-16) matters.
     */
    private static double tanhFromExp(double expTwoU) {
        return 1.0 - 2.0 / (expTwoU + 1.0);
    }

    @Override
    public void geluTanhBackward(Tensor dx, Tensor dy, Tensor x) {
        requireCompute("geluTanhBackward", dx, dy, x);
        ElementBlocks blocks = ElementBlocks.of("geluTanhBackward", dx, dy, x);
        forBlocks(blocks, (block, length, buffers) -> {
            double[] g = buffers[0];
            double[] v = buffers[1];
            double[] e = buffers[2];
            dy.dtype().read(dy.storage(), blocks.start(dy, block), g, 0, length);
            x.dtype().read(x.storage(), blocks.start(x, block), v, 0, length);
            geluTanhExp(e, v, length);
            for (int i = 0; i < length; i++) {
                double u = v[i];
                double t = tanhFromExp(e[i]);
                double dInner = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * u * u);
                g[i] *= 0.5 * (1.0 + t) + 0.5 * u * (1.0 - t * t) * dInner;
            }
            dx.dtype().write(dx.storage(), blocks.start(dx, block), g, 0, length);
        });
    }

    @Override
    public void addRowVector(Tensor y, Tensor v) {
        requireCompute("addRowVector", y, v);
        long[] nc = rowsAndCols("addRowVector", y);
        requireVector("addRowVector", v, nc[1], y);
        int cols = (int) nc[1];
        double[] bias = v.toDoubleArray();
        forRows(nc[0], nc[1], ParallelLoop.shareable(y), (r, buffers) -> {
            double[] row = buffers[0];
            y.dtype().read(y.storage(), rowStart(y, r), row, 0, cols);
            for (int i = 0; i < cols; i++) {
                row[i] += bias[i];
            }
            y.dtype().write(y.storage(), rowStart(y, r), row, 0, cols);
        });
    }

    @Override
    public void sumRowsInto(Tensor dv, Tensor dy) {
        requireCompute("sumRowsInto", dv, dy);
        long[] nc = rowsAndCols("sumRowsInto", dy);
        requireVector("sumRowsInto", dv, nc[1], dy);
        int cols = (int) nc[1];
        double[][] partials = columnSums(nc[0], cols, ParallelLoop.shareable(dy), (r, rowBuffers, acc) -> {
            double[] row = rowBuffers[0];
            dy.dtype().read(dy.storage(), rowStart(dy, r), row, 0, cols);
            for (int i = 0; i < cols; i++) {
                acc[0][i] += row[i];
            }
        }, 1);
        accumulateVector(dv, partials, 0);
    }

    /** Per-row work that adds into per-thread column accumulators {@code acc[j][C]}. */
    @FunctionalInterface
    private interface ColumnSumBody {
        void run(long row, double[][] rowBuffers, double[][] acc);
    }

    /**
     * Runs {@code body} over rows in up to {@code threads} fixed ranges, each with its own accumulators, and
     * returns the accumulators summed in range order: the result depends on the thread count, not on timing.
     */
    private double[][] columnSums(long rows, int cols, boolean shareable, ColumnSumBody body, int accumulators) {
        int tasks = (int) Math.max(1, Math.min(loop.threads(), rows));
        double[][][] perTask = new double[tasks][accumulators][cols];
        loop.forRange(tasks, rows * cols, shareable, (fromTask, toTask) -> {
            double[][] rowBuffers = new double[3][cols];
            for (long t = fromTask; t < toTask; t++) {
                for (long r = rows * t / tasks; r < rows * (t + 1) / tasks; r++) {
                    body.run(r, rowBuffers, perTask[(int) t]);
                }
            }
        });
        double[][] total = new double[accumulators][cols];
        for (double[][] task : perTask) {
            for (int j = 0; j < accumulators; j++) {
                for (int i = 0; i < cols; i++) {
                    total[j][i] += task[j][i];
                }
            }
        }
        return total;
    }

    /** Accumulates v += partials[index] for a vector tensor v. */
    private static void accumulateVector(Tensor v, double[][] partials, int index) {
        double[] current = v.toDoubleArray();
        for (int i = 0; i < current.length; i++) {
            current[i] += partials[index][i];
        }
        if (v.isContiguous()) {
            v.dtype().write(v.storage(), v.offset(), current, 0, current.length);
        } else {
            for (int i = 0; i < current.length; i++) {
                v.set(current[i], i);
            }
        }
    }

    @Override
    public void layerNorm(Tensor y, Tensor mean, Tensor rstd, Tensor x, Tensor weight, Tensor bias, double eps) {
        requireCompute("layerNorm", y, mean, rstd, x, weight, bias);
        long[] nc = rowsAndCols("layerNorm", x);
        requireSameRows("layerNorm", y, x);
        requireVector("layerNorm", weight, nc[1], x);
        requireVector("layerNorm", bias, nc[1], x);
        requireVector("layerNorm", mean, nc[0], x);
        requireVector("layerNorm", rstd, nc[0], x);
        int cols = (int) nc[1];
        double[] w = weight.toDoubleArray();
        double[] b = bias.toDoubleArray();
        forRows(nc[0], nc[1], ParallelLoop.shareable(y, mean, rstd, x), (r, buffers) -> {
            double[] row = buffers[0];
            x.dtype().read(x.storage(), rowStart(x, r), row, 0, cols);
            double m = RowSums.sum(row, 0, cols) / cols;
            double s = 1.0 / Math.sqrt(RowSums.squaredDeviations(row, cols, m) / cols + eps);
            for (int i = 0; i < cols; i++) {
                row[i] = (row[i] - m) * s * w[i] + b[i];
            }
            y.dtype().write(y.storage(), rowStart(y, r), row, 0, cols);
            mean.dtype().set(mean.storage(), mean.offset() + r * mean.stride(0), m);
            rstd.dtype().set(rstd.storage(), rstd.offset() + r * rstd.stride(0), s);
        });
    }

    @Override
    public void layerNormBackward(Tensor dx, Tensor dWeight, Tensor dBias, Tensor dy, Tensor x, Tensor weight,
                                  Tensor mean, Tensor rstd) {
        requireCompute("layerNormBackward", dx, dWeight, dBias, dy, x, weight, mean, rstd);
        long[] nc = rowsAndCols("layerNormBackward", x);
        requireSameRows("layerNormBackward", dx, x);
        requireSameRows("layerNormBackward", dy, x);
        requireVector("layerNormBackward", weight, nc[1], x);
        requireVector("layerNormBackward", dWeight, nc[1], x);
        requireVector("layerNormBackward", dBias, nc[1], x);
        requireVector("layerNormBackward", mean, nc[0], x);
        requireVector("layerNormBackward", rstd, nc[0], x);
        int cols = (int) nc[1];
        double[] w = weight.toDoubleArray();
        double[][] sums = columnSums(nc[0], cols, ParallelLoop.shareable(dx, dy, x, mean, rstd), (r, rowBuffers, acc) -> {
            double[] xRow = rowBuffers[0];
            double[] g = rowBuffers[1];
            double[] out = rowBuffers[2];
            x.dtype().read(x.storage(), rowStart(x, r), xRow, 0, cols);
            dy.dtype().read(dy.storage(), rowStart(dy, r), g, 0, cols);
            double m = mean.dtype().get(mean.storage(), mean.offset() + r * mean.stride(0));
            double s = rstd.dtype().get(rstd.storage(), rstd.offset() + r * rstd.stride(0));
            // x̂ = (x − m)·s, dx̂ = dy ⊙ w, dx += s · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ⊙ x̂)); loops without a
            // reduction in them (they vectorize), the two means by RowSums
            double[] xhat = xRow;
            double[] dnorm = out;
            double[] dWeightSum = acc[0];
            double[] dBiasSum = acc[1];
            for (int i = 0; i < cols; i++) {
                xhat[i] = (xRow[i] - m) * s;
                dnorm[i] = g[i] * w[i];
                dWeightSum[i] += g[i] * xhat[i];
                dBiasSum[i] += g[i];
            }
            double meanDnorm = RowSums.sum(dnorm, 0, cols) / cols;
            double meanDnormXhat = RowSums.dot(dnorm, xhat, cols) / cols;
            double[] result = g;                   // dy is no longer needed: dx accumulates in its buffer
            dx.dtype().read(dx.storage(), rowStart(dx, r), result, 0, cols);
            for (int i = 0; i < cols; i++) {
                result[i] += s * (dnorm[i] - meanDnorm - xhat[i] * meanDnormXhat);
            }
            dx.dtype().write(dx.storage(), rowStart(dx, r), result, 0, cols);
        }, 2);
        accumulateVector(dWeight, sums, 0);
        accumulateVector(dBias, sums, 1);
    }

    @Override
    public void rmsNorm(Tensor y, Tensor rstd, Tensor x, Tensor weight, double eps) {
        requireCompute("rmsNorm", y, rstd, x, weight);
        long[] nc = rowsAndCols("rmsNorm", x);
        requireSameRows("rmsNorm", y, x);
        requireVector("rmsNorm", weight, nc[1], x);
        requireVector("rmsNorm", rstd, nc[0], x);
        int cols = (int) nc[1];
        double[] w = weight.toDoubleArray();
        forRows(nc[0], nc[1], ParallelLoop.shareable(y, rstd, x), (r, buffers) -> {
            double[] row = buffers[0];
            x.dtype().read(x.storage(), rowStart(x, r), row, 0, cols);
            double s = rmsNormRow(row, w, cols, eps);
            y.dtype().write(y.storage(), rowStart(y, r), row, 0, cols);
            rstd.dtype().set(rstd.storage(), rstd.offset() + r * rstd.stride(0), s);
        });
    }

    /** row[0, C) ← row · rstd ⊙ w; returns rstd = 1/√(mean row² + eps). */
    private static double rmsNormRow(double[] row, double[] w, int cols, double eps) {
        double s = 1.0 / Math.sqrt(RowSums.dot(row, row, cols) / cols + eps);
        for (int i = 0; i < cols; i++) {
            row[i] = row[i] * s * w[i];
        }
        return s;
    }

    @Override
    public void rmsNormBackward(Tensor dx, Tensor dWeight, Tensor dy, Tensor x, Tensor weight, Tensor rstd) {
        requireCompute("rmsNormBackward", dx, dWeight, dy, x, weight, rstd);
        long[] nc = rowsAndCols("rmsNormBackward", x);
        requireSameRows("rmsNormBackward", dx, x);
        requireSameRows("rmsNormBackward", dy, x);
        requireVector("rmsNormBackward", weight, nc[1], x);
        requireVector("rmsNormBackward", dWeight, nc[1], x);
        requireVector("rmsNormBackward", rstd, nc[0], x);
        int cols = (int) nc[1];
        double[] w = weight.toDoubleArray();
        double[][] sums = columnSums(nc[0], cols, ParallelLoop.shareable(dx, dy, x, rstd), (r, rowBuffers, acc) -> {
            double[] xRow = rowBuffers[0];
            double[] g = rowBuffers[1];
            double[] out = rowBuffers[2];
            x.dtype().read(x.storage(), rowStart(x, r), xRow, 0, cols);
            dy.dtype().read(dy.storage(), rowStart(dy, r), g, 0, cols);
            dx.dtype().read(dx.storage(), rowStart(dx, r), out, 0, cols);
            double s = rstd.dtype().get(rstd.storage(), rstd.offset() + r * rstd.stride(0));
            rmsNormBackwardRow(out, acc[0], g, xRow, w, s, cols);
            dx.dtype().write(dx.storage(), rowStart(dx, r), out, 0, cols);
        }, 1);
        accumulateVector(dWeight, sums, 0);
    }

    /** One row of the RMSNorm backward: dx += s·(w ⊙ g) − s³/C · x · Σ(w ⊙ g ⊙ x) and dWeight += g ⊙ x · s. */
    private static void rmsNormBackwardRow(double[] dx, double[] dWeight, double[] g, double[] x, double[] w,
                                           double s, int cols) {
        for (int i = 0; i < cols; i++) {
            dWeight[i] += g[i] * x[i] * s;
        }
        double k = s * s * s * RowSums.dot3(w, g, x, cols) / cols;
        for (int i = 0; i < cols; i++) {
            dx[i] += s * w[i] * g[i] - k * x[i];
        }
    }

    @Override
    public void rotary(Tensor y, Tensor x, Tensor cos, Tensor sin, int headDim, int time, int offset,
                       boolean inverse) {
        requireCompute("rotary", y, x, cos, sin);
        long[] nc = rowsAndCols("rotary", x);
        requireSameRows("rotary", y, x);
        if (headDim <= 0 || headDim % 2 != 0) {
            throw new IllegalArgumentException("rotary: head dimension " + headDim + " must be even and positive");
        }
        if (nc[1] % headDim != 0) {
            throw new IllegalArgumentException("rotary: width " + nc[1] + " of " + x.describe()
                    + " is not a multiple of the head dimension " + headDim);
        }
        if (time <= 0 || nc[0] % time != 0) {
            throw new IllegalArgumentException("rotary: time " + time + " does not divide the " + nc[0] + " rows of "
                    + x.describe());
        }
        int half = headDim / 2;
        if (cos.rank() != 2 || !cos.sameShape(sin) || cos.dim(1) != half) {
            throw new IllegalArgumentException("rotary: tables cos " + cos.describe() + " and sin " + sin.describe()
                    + " must both be (P, " + half + ") for head dimension " + headDim);
        }
        rowsAndCols("rotary", cos);
        rowsAndCols("rotary", sin);
        if (offset < 0 || (long) offset + time > cos.dim(0)) {
            throw new IllegalArgumentException("rotary: positions " + offset + ".." + ((long) offset + time - 1)
                    + " are outside the tables " + cos.describe() + " (positions 0.." + (cos.dim(0) - 1) + ")");
        }
        int cols = (int) nc[1];
        if (cols == 0) {
            return;
        }
        double sign = inverse ? -1.0 : 1.0;
        forRows(nc[0], nc[1], ParallelLoop.shareable(y, x, cos, sin), (r, buffers) -> {
            double[] row = buffers[0];
            double[] angle = buffers[1];        // cos in [0, d/2), sin in [d/2, d)
            long position = offset + r % time;
            x.dtype().read(x.storage(), rowStart(x, r), row, 0, cols);
            cos.dtype().read(cos.storage(), rowStart(cos, position), angle, 0, half);
            sin.dtype().read(sin.storage(), rowStart(sin, position), angle, half, half);
            rotateHalves(row, cols, angle, headDim, sign);
            y.dtype().write(y.storage(), rowStart(y, r), row, 0, cols);
        });
    }

    /**
     * For each head of row[0, cols): (a, b) ← (a·c − b·s, b·c + a·s) with a, b the first and second half of the head,
     * c = angle[i], s = sign · angle[d/2 + i].
     */
    private static void rotateHalves(double[] row, int cols, double[] angle, int headDim, double sign) {
        int half = headDim / 2;
        for (int base = 0; base < cols; base += headDim) {
            for (int i = 0; i < half; i++) {
                double a = row[base + i];
                double b = row[base + half + i];
                double c = angle[i];
                double s = sign * angle[half + i];
                row[base + i] = a * c - b * s;
                row[base + half + i] = b * c + a * s;
            }
        }
    }

    @Override
    public void swiglu(Tensor h, Tensor gate, Tensor up) {
        requireCompute("swiglu", h, gate, up);
        ElementBlocks blocks = ElementBlocks.of("swiglu", h, gate, up);
        forBlocks(blocks, (block, length, buffers) -> {
            double[] g = buffers[0];
            double[] u = buffers[1];
            gate.dtype().read(gate.storage(), blocks.start(gate, block), g, 0, length);
            up.dtype().read(up.storage(), blocks.start(up, block), u, 0, length);
            double[] e = buffers[2];
            sigmoidExp(e, g, length);
            for (int i = 0; i < length; i++) {
                g[i] = g[i] * sigmoid(g[i], e[i]) * u[i];
            }
            h.dtype().write(h.storage(), blocks.start(h, block), g, 0, length);
        });
    }

    @Override
    public void swigluBackward(Tensor dGate, Tensor dUp, Tensor dh, Tensor gate, Tensor up) {
        requireCompute("swigluBackward", dGate, dUp, dh, gate, up);
        ElementBlocks blocks = ElementBlocks.of("swigluBackward", dGate, dUp, dh, gate, up);
        forBlocks(blocks, (block, length, buffers) -> {
            double[] d = buffers[0];        // dh, then dGate
            double[] g = buffers[1];
            double[] u = buffers[2];
            double[] du = buffers[3];
            dh.dtype().read(dh.storage(), blocks.start(dh, block), d, 0, length);
            gate.dtype().read(gate.storage(), blocks.start(gate, block), g, 0, length);
            up.dtype().read(up.storage(), blocks.start(up, block), u, 0, length);
            double[] e = buffers[4];
            sigmoidExp(e, g, length);
            for (int i = 0; i < length; i++) {
                double s = sigmoid(g[i], e[i]);
                du[i] = d[i] * g[i] * s;
                d[i] = d[i] * u[i] * s * (1.0 + g[i] * (1.0 - s));
            }
            dGate.dtype().write(dGate.storage(), blocks.start(dGate, block), d, 0, length);
            dUp.dtype().write(dUp.storage(), blocks.start(dUp, block), du, 0, length);
        });
    }

    /** e[i] = exp(−|z[i]|) for i < length: the exponential of {@link #sigmoid}, in a loop of its own. */
    private static void sigmoidExp(double[] e, double[] z, int length) {
        for (int i = 0; i < length; i++) {
            e[i] = -Math.abs(z[i]);
        }
        exp(e, length);
    }

    /**
     * σ(z) = 1/(1 + e^{−z}) given e = exp(−|z|): only the exponential of −|z| is taken, so nothing overflows and
     * there is no ∞/∞ at large |z|.
     */
    private static double sigmoid(double z, double expMinusAbs) {
        return z >= 0 ? 1.0 / (1.0 + expMinusAbs) : expMinusAbs / (1.0 + expMinusAbs);
    }

    @Override
    public void gatherRows(Tensor out, Tensor table, Tensor ids) {
        requireCompute("gatherRows", out, table);
        int[] index = ids(ids, "gatherRows", table);
        long[] nc = rowsAndCols("gatherRows", out);
        long[] vc = rowsAndCols("gatherRows", table);
        if (nc[0] != index.length || nc[1] != vc[1]) {
            throw new IllegalArgumentException("gatherRows: out " + out.describe() + " must be (" + index.length
                    + ", " + vc[1] + ") for table " + table.describe() + " and ids " + ids.describe());
        }
        int cols = (int) nc[1];
        forRows(nc[0], nc[1], ParallelLoop.shareable(out, table), (r, buffers) -> {
            table.dtype().read(table.storage(), rowStart(table, index[(int) r]), buffers[0], 0, cols);
            out.dtype().write(out.storage(), rowStart(out, r), buffers[0], 0, cols);
        });
    }

    @Override
    public void scatterAddRows(Tensor dTable, Tensor dOut, Tensor ids) {
        requireCompute("scatterAddRows", dTable, dOut);
        int[] index = ids(ids, "scatterAddRows", dTable);
        long[] nc = rowsAndCols("scatterAddRows", dOut);
        long[] vc = rowsAndCols("scatterAddRows", dTable);
        if (nc[0] != index.length || nc[1] != vc[1]) {
            throw new IllegalArgumentException("scatterAddRows: dOut " + dOut.describe() + " must be ("
                    + index.length + ", " + vc[1] + ") for table " + dTable.describe());
        }
        int cols = (int) nc[1];
        // sequential: repeated ids would race; the cost is O(N·C), small next to the GEMMs around it
        double[] table = new double[cols];
        double[] row = new double[cols];
        for (int r = 0; r < index.length; r++) {
            long at = rowStart(dTable, index[r]);
            dTable.dtype().read(dTable.storage(), at, table, 0, cols);
            dOut.dtype().read(dOut.storage(), rowStart(dOut, r), row, 0, cols);
            for (int i = 0; i < cols; i++) {
                table[i] += row[i];
            }
            dTable.dtype().write(dTable.storage(), at, table, 0, cols);
        }
    }

    /** The ids of an I32 vector, each checked against the table's row count. */
    private static int[] ids(Tensor ids, String op, Tensor table) {
        if (ids.dtype() != DType.I32 || ids.rank() != 1) {
            throw new IllegalArgumentException(op + ": ids " + ids.describe() + " must be a 1-D I32 tensor");
        }
        long rows = table.size() / Math.max(1, table.dim(-1));
        int[] index = new int[(int) ids.size()];
        for (int i = 0; i < index.length; i++) {
            int id = (int) ids.get(i);
            if (id < 0 || id >= rows) {
                throw new IllegalArgumentException(op + ": id " + id + " at position " + i + " of " + ids.describe()
                        + " is outside table " + table.describe() + " (valid: 0.." + (rows - 1) + ")");
            }
            index[i] = id;
        }
        return index;
    }

    /**
     * row[0, n) ← softmax(scale · row[0, n)), max-shifted so exp never overflows. scale = 1 multiplies exactly, so
     * the plain and the causal (scaled) softmax share this one computation bit for bit.
     */
    private static void softmaxPrefix(double[] row, int n, double scale) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            row[i] *= scale;
            max = Math.max(max, row[i]);
        }
        for (int i = 0; i < n; i++) {
            row[i] -= max;
        }
        exp(row, n);
        double inv = 1.0 / RowSums.sum(row, 0, n);
        for (int i = 0; i < n; i++) {
            row[i] *= inv;
        }
    }

    /** g[0, n) ← scale · p ⊙ (g − ⟨g, p⟩): the softmax backward of y = softmax(scale · x) on the first n entries. */
    private static void softmaxBackwardPrefix(double[] g, double[] p, int n, double scale) {
        double inner = RowSums.dot(g, p, n);
        for (int i = 0; i < n; i++) {
            g[i] = scale * p[i] * (g[i] - inner);
        }
    }

    @Override
    public void causalSoftmax(Tensor y, Tensor x, double scale) {
        requireCompute("causalSoftmax", y, x);
        requireSquareBlocks("causalSoftmax", y, x);
        requireSameRows("causalSoftmax", y, x);
        long[] nc = rowsAndCols("causalSoftmax", x);
        int t = (int) nc[1];
        forRows(nc[0], nc[1], ParallelLoop.shareable(y, x), (r, buffers) -> {
            double[] row = buffers[0];
            int visible = (int) (r % t) + 1;     // row t of a block sees columns 0..t
            x.dtype().read(x.storage(), rowStart(x, r), row, 0, visible);
            softmaxPrefix(row, visible, scale);
            Arrays.fill(row, visible, t, 0.0);
            y.dtype().write(y.storage(), rowStart(y, r), row, 0, t);
        });
    }

    @Override
    public void causalSoftmaxBackward(Tensor dx, Tensor dy, Tensor y, double scale) {
        requireCompute("causalSoftmaxBackward", dx, dy, y);
        requireSquareBlocks("causalSoftmaxBackward", dx, y);
        requireSquareBlocks("causalSoftmaxBackward", dy, y);
        requireSameRows("causalSoftmaxBackward", dx, y);
        requireSameRows("causalSoftmaxBackward", dy, y);
        long[] nc = rowsAndCols("causalSoftmaxBackward", y);
        int t = (int) nc[1];
        forRows(nc[0], nc[1], ParallelLoop.shareable(dx, dy, y), (r, buffers) -> {
            double[] g = buffers[0];
            double[] p = buffers[1];
            int visible = (int) (r % t) + 1;
            dy.dtype().read(dy.storage(), rowStart(dy, r), g, 0, visible);
            y.dtype().read(y.storage(), rowStart(y, r), p, 0, visible);
            softmaxBackwardPrefix(g, p, visible, scale);
            Arrays.fill(g, visible, t, 0.0);
            dx.dtype().write(dx.storage(), rowStart(dx, r), g, 0, t);
        });
    }

    @Override
    public void crossEntropy(Tensor losses, Tensor logSumExp, Tensor logits, Tensor targets) {
        requireCompute("crossEntropy", losses, logSumExp, logits);
        long[] nc = rowsAndCols("crossEntropy", logits);
        int[] target = targets(targets, "crossEntropy", nc);
        requireVector("crossEntropy", losses, nc[0], logits);
        requireVector("crossEntropy", logSumExp, nc[0], logits);
        int cols = (int) nc[1];
        forRows(nc[0], nc[1], ParallelLoop.shareable(losses, logSumExp, logits), (r, buffers) -> {
            long start = rowStart(logits, r);
            double lse = logSumExp(logits, start, buffers[0], cols);
            int label = target[(int) r];
            logSumExp.dtype().set(logSumExp.storage(), logSumExp.offset() + r * logSumExp.stride(0), lse);
            losses.dtype().set(losses.storage(), losses.offset() + r * losses.stride(0),
                    label < 0 ? 0 : lse - logits.dtype().get(logits.storage(), start + label));
        });
    }

    @Override
    public void crossEntropyBackward(Tensor dLogits, Tensor logits, Tensor logSumExp, Tensor targets, double scale) {
        requireCompute("crossEntropyBackward", dLogits, logits, logSumExp);
        long[] nc = rowsAndCols("crossEntropyBackward", logits);
        requireSameRows("crossEntropyBackward", dLogits, logits);
        requireVector("crossEntropyBackward", logSumExp, nc[0], logits);
        int[] target = targets(targets, "crossEntropyBackward", nc);
        int cols = (int) nc[1];
        forRows(nc[0], Math.min(nc[1], EXP_CHUNK), ParallelLoop.shareable(dLogits, logits, logSumExp),
                (r, buffers) -> {
            // chunk by chunk from the logits to dLogits: each chunk is read, exponentiated, scaled and written while
            // it is in L1, and no row-long buffer is written and read back
            double[] chunk = buffers[0];
            int label = target[(int) r];
            long in = rowStart(logits, r);
            long out = rowStart(dLogits, r);
            double lse = label < 0 ? 0
                    : logSumExp.dtype().get(logSumExp.storage(), logSumExp.offset() + r * logSumExp.stride(0));
            for (int from = 0; from < cols; from += EXP_CHUNK) {
                int length = Math.min(EXP_CHUNK, cols - from);
                if (label < 0) {
                    Arrays.fill(chunk, 0, length, 0.0);
                } else {
                    logits.dtype().read(logits.storage(), in + from, chunk, 0, length);
                    for (int i = 0; i < length; i++) {
                        chunk[i] -= lse;
                    }
                    ExpKernel.exp(chunk, 0, length);
                    for (int i = 0; i < length; i++) {
                        chunk[i] *= scale;
                    }
                    if (label >= from && label < from + length) {
                        chunk[label - from] -= scale;
                    }
                }
                dLogits.dtype().write(dLogits.storage(), out + from, chunk, 0, length);
            }
        });
    }

    /**
     * log Σ exp(x) over the {@code cols} elements of {@code t} from element {@code start}, max-shifted, the chunk sums
     * added in index order. A vocabulary row (50,257 doubles) does not fit L1, so both passes (the max, then the
     * shift, exp and sum) read it chunk by chunk into {@code scratch} (≥ {@link #EXP_CHUNK}) straight from memory.
     */
    private static double logSumExp(Tensor t, long start, double[] scratch, int cols) {
        double max = Double.NEGATIVE_INFINITY;
        for (int from = 0; from < cols; from += EXP_CHUNK) {
            int length = Math.min(EXP_CHUNK, cols - from);
            t.dtype().read(t.storage(), start + from, scratch, 0, length);
            max = Math.max(max, max(scratch, length));      // max is exact: chunked equals whole-row
        }
        double sum = 0;
        for (int from = 0; from < cols; from += EXP_CHUNK) {
            int length = Math.min(EXP_CHUNK, cols - from);
            t.dtype().read(t.storage(), start + from, scratch, 0, length);
            for (int i = 0; i < length; i++) {
                scratch[i] -= max;
            }
            exp(scratch, length);
            sum += RowSums.sum(scratch, 0, length);
        }
        return max + Math.log(sum);
    }

    /**
     * The largest of row[0, n) (NaN if any is NaN), over four running maxima: max is exact and order-free, so this
     * equals the one-accumulator loop bit for bit, without its chain of dependent compares.
     */
    private static double max(double[] row, int n) {
        double m0 = Double.NEGATIVE_INFINITY;
        double m1 = Double.NEGATIVE_INFINITY;
        double m2 = Double.NEGATIVE_INFINITY;
        double m3 = Double.NEGATIVE_INFINITY;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            m0 = Math.max(m0, row[i]);
            m1 = Math.max(m1, row[i + 1]);
            m2 = Math.max(m2, row[i + 2]);
            m3 = Math.max(m3, row[i + 3]);
        }
        for (; i < n; i++) {
            m0 = Math.max(m0, row[i]);
        }
        return Math.max(Math.max(m0, m1), Math.max(m2, m3));
    }

    /** Targets of an I32 vector of N entries, each negative (ignored) or a valid class index below V. */
    private static int[] targets(Tensor targets, String op, long[] logitsShape) {
        if (targets.dtype() != DType.I32 || targets.rank() != 1 || targets.size() != logitsShape[0]) {
            throw new IllegalArgumentException(op + ": targets " + targets.describe() + " must be a 1-D I32 tensor of "
                    + logitsShape[0] + " entries");
        }
        int[] out = new int[(int) targets.size()];
        for (int i = 0; i < out.length; i++) {
            int t = (int) targets.get(i);
            if (t >= logitsShape[1]) {
                throw new IllegalArgumentException(op + ": target " + t + " at position " + i + " of "
                        + targets.describe() + " is not below the " + logitsShape[1] + " classes");
            }
            out[i] = t;
        }
        return out;
    }

    @Override
    public void sampleSoftmaxRows(Tensor out, Tensor logits, Tensor mask, long streamSeed) {
        requireCompute("sampleSoftmaxRows", logits);
        long[] nv = rowsAndCols("sampleSoftmaxRows", logits);
        requireI32Vector("sampleSoftmaxRows", out, nv[0], logits);
        requireI32Vector("sampleSoftmaxRows", mask, nv[0], logits);
        requireNonEmptyRows("sampleSoftmaxRows", logits, nv);
        int v = (int) nv[1];
        int[] labels = new int[(int) nv[0]];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = (int) mask.dtype().get(mask.storage(), mask.offset() + i * mask.stride(0));
        }
        // sequential on purpose: row i's draw is the i-th counted nextDouble() of one stream
        SplittableRandom random = new SplittableRandom(streamSeed);
        double[] row = new double[v];
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0) {
                labels[i] = -1;
                continue;
            }
            logits.dtype().read(logits.storage(), rowStart(logits, i), row, 0, v);
            labels[i] = sampleSoftmaxRow(row, v, random);
        }
        for (int i = 0; i < labels.length; i++) {
            out.dtype().set(out.storage(), out.offset() + i * out.stride(0), labels[i]);
        }
    }

    /** One draw from softmax(row[0, v)) by inversion of the unnormalised cumulative sum; overwrites row with e_j. */
    private static int sampleSoftmaxRow(double[] row, int v, SplittableRandom random) {
        double max = max(row, v);
        for (int j = 0; j < v; j++) {
            row[j] -= max;
        }
        exp(row, v);
        double total = 0;
        for (int j = 0; j < v; j++) {
            total += row[j];
        }
        double u = random.nextDouble() * total;
        for (int j = 0; j < v; j++) {
            u -= row[j];
            if (u < 0) {
                return j;
            }
        }
        return v - 1;
    }

    @Override
    public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, double lr, double beta1, double beta2,
                      double eps, double weightDecay, long step) {
        requireCompute("adamw", param, grad, m, v);
        if (step < 1) {
            throw new IllegalArgumentException("adamw: step counts from 1, got " + step);
        }
        ElementBlocks blocks = ElementBlocks.of("adamw", param, grad, m, v);
        double correction1 = 1.0 - Math.pow(beta1, step);
        double correction2 = 1.0 - Math.pow(beta2, step);
        forBlocks(blocks, (block, length, buffers) -> {
            double[] p = buffers[0];
            double[] g = buffers[1];
            double[] mv = buffers[2];
            double[] vv = buffers[3];
            param.dtype().read(param.storage(), blocks.start(param, block), p, 0, length);
            grad.dtype().read(grad.storage(), blocks.start(grad, block), g, 0, length);
            m.dtype().read(m.storage(), blocks.start(m, block), mv, 0, length);
            v.dtype().read(v.storage(), blocks.start(v, block), vv, 0, length);
            for (int i = 0; i < length; i++) {
                mv[i] = beta1 * mv[i] + (1 - beta1) * g[i];
                vv[i] = beta2 * vv[i] + (1 - beta2) * g[i] * g[i];
                double mHat = mv[i] / correction1;
                double vHat = vv[i] / correction2;
                p[i] -= lr * (mHat / (Math.sqrt(vHat) + eps) + weightDecay * p[i]);
            }
            param.dtype().write(param.storage(), blocks.start(param, block), p, 0, length);
            m.dtype().write(m.storage(), blocks.start(m, block), mv, 0, length);
            v.dtype().write(v.storage(), blocks.start(v, block), vv, 0, length);
        });
    }

    @Override
    public double sum(Tensor a) {
        requireCompute("sum", a);
        ElementBlocks blocks = ElementBlocks.of("sum", a);
        return reduceBlocks(blocks, (block, length, buffers) -> {
            a.dtype().read(a.storage(), blocks.start(a, block), buffers[0], 0, length);
            double s = 0;
            for (int i = 0; i < length; i++) {
                s += buffers[0][i];
            }
            return s;
        });
    }

    @Override
    public double dot(Tensor a, Tensor b) {
        requireCompute("dot", a, b);
        ElementBlocks blocks = ElementBlocks.of("dot", a, b);
        return reduceBlocks(blocks, (block, length, buffers) -> {
            a.dtype().read(a.storage(), blocks.start(a, block), buffers[0], 0, length);
            b.dtype().read(b.storage(), blocks.start(b, block), buffers[1], 0, length);
            double s = 0;
            for (int i = 0; i < length; i++) {
                s += buffers[0][i] * buffers[1][i];
            }
            return s;
        });
    }

    @Override
    public double sumOfSquares(List<Tensor> tensors) {
        for (Tensor t : tensors) {
            requireCompute("sumOfSquares", t);
        }
        double total = 0;
        for (Tensor t : tensors) {
            ElementBlocks blocks = ElementBlocks.of("sumOfSquares", t);
            total += reduceBlocks(blocks, (block, length, buffers) -> {
                double[] x = buffers[0];
                t.dtype().read(t.storage(), blocks.start(t, block), x, 0, length);
                double s = 0;
                for (int i = 0; i < length; i++) {
                    s += x[i] * x[i];
                }
                return s;
            });
        }
        return total;
    }

    /** The partial result of one block. */
    @FunctionalInterface
    private interface BlockReduction {
        double run(long block, int length, double[][] buffers);
    }

    /** Σ over blocks of {@code body}, added in block order: the result does not depend on the thread count. */
    private double reduceBlocks(ElementBlocks blocks, BlockReduction body) {
        double[] partial = new double[(int) Math.min(Integer.MAX_VALUE - 8, blocks.count())];
        forBlocks(blocks, (block, length, buffers) -> partial[(int) block] = body.run(block, length, buffers));
        double total = 0;
        for (double p : partial) {
            total += p;
        }
        return total;
    }

    @Override
    public void requireFinite(Tensor t, String purpose) {
        if (!t.dtype().isCompute() && t.dtype() != DType.BF16 && t.dtype() != DType.F16) {
            return;
        }
        ElementBlocks blocks = ElementBlocks.of("requireFinite", t);
        long[] nanCount = new long[(int) blocks.count()];
        long[] infCount = new long[(int) blocks.count()];
        long[] firstBad = new long[(int) blocks.count()];
        forBlocks(blocks, (block, length, buffers) -> {
            double[] v = buffers[0];
            t.dtype().read(t.storage(), blocks.start(t, block), v, 0, length);
            long first = -1;
            for (int i = 0; i < length; i++) {
                double x = v[i];
                if (Double.isNaN(x)) {
                    nanCount[(int) block]++;
                } else if (Double.isInfinite(x)) {
                    infCount[(int) block]++;
                } else {
                    continue;
                }
                if (first < 0) {
                    first = i;
                }
            }
            firstBad[(int) block] = first;
        });
        long nans = Arrays.stream(nanCount).sum();
        long infs = Arrays.stream(infCount).sum();
        if (nans == 0 && infs == 0) {
            return;
        }
        long flat = -1;
        for (int block = 0; block < firstBad.length; block++) {
            if (firstBad[block] >= 0) {
                flat = (long) block * blocks.maxLength() + firstBad[block];
                break;
            }
        }
        long[] shape = t.shape();
        long[] index = new long[shape.length];
        long rest = flat;
        for (int d = shape.length - 1; d >= 0; d--) {
            index[d] = shape[d] == 0 ? 0 : rest % shape[d];
            rest = shape[d] == 0 ? 0 : rest / shape[d];
        }
        throw new NonFiniteTensorException(t.name(), "tensor '" + t.name() + "' " + t.dtype()
                + Arrays.toString(shape) + " holds " + nans + " NaN and " + infs + " infinite values (first at "
                + Arrays.toString(index) + " = " + t.get(index) + "); refusing " + purpose);
    }

    @Override
    public void close() {
        loop.close();
    }

    // ---- checks ------------------------------------------------------------------------------------------------

    private static DType requireSameComputeType(String op, Tensor... tensors) {
        DType dtype = tensors[0].dtype();
        for (Tensor t : tensors) {
            if (t.dtype() != dtype || !t.dtype().isCompute()) {
                StringBuilder all = new StringBuilder();
                for (Tensor u : tensors) {
                    all.append(all.isEmpty() ? "" : ", ").append(u.describe());
                }
                throw new IllegalArgumentException(op + ": operands must share one compute dtype (F32 or F64), got "
                        + all);
            }
        }
        return dtype;
    }

    private static void requireCompute(String op, Tensor... tensors) {
        for (Tensor t : tensors) {
            if (!t.dtype().isCompute()) {
                throw new IllegalArgumentException(op + ": " + t.describe() + " has storage dtype " + t.dtype()
                        + "; copy it to F32 or F64 first");
            }
        }
    }

    private static void requireSameRows(String op, Tensor a, Tensor b) {
        if (!a.sameShape(b)) {
            throw new IllegalArgumentException(op + ": shape mismatch " + a.describe() + " vs " + b.describe());
        }
        rowsAndCols(op, a);
    }

    private static void requireVector(String op, Tensor v, long length, Tensor forTensor) {
        if (v.rank() != 1 || v.dim(0) != length) {
            throw new IllegalArgumentException(op + ": " + v.describe() + " must be a vector of " + length
                    + " elements for " + forTensor.describe());
        }
    }

    private static void requireI32Vector(String op, Tensor v, long length, Tensor forTensor) {
        if (v.dtype() != DType.I32 || v.rank() != 1 || v.dim(0) != length || v.device() != Device.HOST) {
            throw new IllegalArgumentException(op + ": " + v.describe() + " must be a host I32 vector of " + length
                    + " elements for " + forTensor.describe());
        }
    }

    private static void requireContiguousInts(String op, Tensor t, long count) {
        if (t.dtype() != DType.I32 || !t.isContiguous() || t.size() != count || t.device() != Device.HOST) {
            throw new IllegalArgumentException(op + ": " + t.describe() + " must be a contiguous host I32 tensor of "
                    + count + " elements");
        }
        if (count > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(op + ": " + t.describe() + " is too large for a Java array");
        }
    }

    /** Rejects rows of no elements (an argmax or a draw over nothing) when there are rows. */
    private static void requireNonEmptyRows(String op, Tensor t, long[] rowsAndCols) {
        if (rowsAndCols[0] > 0 && rowsAndCols[1] == 0) {
            throw new IllegalArgumentException(op + ": rows of " + t.describe() + " are empty");
        }
    }

    private static void requireSquareBlocks(String op, Tensor a, Tensor b) {
        if (!a.sameShape(b) || a.rank() < 2 || a.dim(-1) != a.dim(-2)) {
            throw new IllegalArgumentException(op + ": need equal shapes (..., T, T), got " + a.describe() + " and "
                    + b.describe());
        }
    }

    private static void requireSquareRowMajor(String op, Tensor a) {
        if (a.rank() != 2 || a.dim(0) != a.dim(1) || (a.dim(0) > 1 && a.stride(1) != 1)) {
            throw new IllegalArgumentException(op + ": " + a.describe() + " must be a square row-major matrix");
        }
        if (a.device() != Device.HOST) {
            throw new IllegalArgumentException(op + ": " + a.describe() + " is not in host memory");
        }
    }

    private static int int32(String op, String what, long value) {
        if (value < 0 || value > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(op + ": " + what + " = " + value + " does not fit a 32-bit BLAS int");
        }
        return (int) value;
    }
}
