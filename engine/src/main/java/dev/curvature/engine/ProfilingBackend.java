package dev.curvature.engine;

import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A backend that times every call of another one, per operation and — for the products — per shape, so a step's
 * time can be split into its GEMMs by role (a GPT-2 layer's QKV, projection and MLP products each have their own
 * (m, n, k)), the attention's small products, the elementwise kernels and what runs outside the backend. Only a
 * caller that wants the breakdown wraps its backend in this; the plain backend pays nothing.
 *
 * <p>Each entry keeps calls, wall time, process CPU time (all threads: CPU/wall ≈ the cores the call kept busy, so
 * a single-threaded stretch shows as ≈ 1 on a 2-core run) and the flops of the GEMM/SYRK calls (2mnk, n(n+1)k).
 * Times are collected into the current {@link #section} ("plain", "collection", ...), so one run can report the
 * two kinds of step apart.
 */
public final class ProfilingBackend implements Backend {
    private static final java.lang.management.OperatingSystemMXBean OS = ManagementFactory.getOperatingSystemMXBean();

    /** One timed operation: totals over its calls. */
    public static final class Entry {
        private final String key;
        private long calls;
        private long wallNanos;
        private long cpuNanos;
        private double flops;

        private Entry(String key) {
            this.key = key;
        }

        /** The operation, and for products its shape: "sgemm N·T 1024×2304×768". */
        public String key() {
            return key;
        }

        public long calls() {
            return calls;
        }

        public double seconds() {
            return wallNanos / 1e9;
        }

        /** Process CPU seconds over the calls (every thread of the process). */
        public double cpuSeconds() {
            return cpuNanos / 1e9;
        }

        /** Counted flops (GEMM 2mnk, SYRK n(n+1)k); 0 for elementwise kernels. */
        public double flops() {
            return flops;
        }
    }

    /** The entries of one section, and its wall time between {@link #section} calls. */
    public record Section(String name, double seconds, List<Entry> entries) {
        /** Wall time inside the backend. */
        public double backendSeconds() {
            return entries.stream().mapToDouble(Entry::seconds).sum();
        }
    }

    private final Backend inner;
    private final Map<String, Map<String, Entry>> sections = new LinkedHashMap<>();
    private final Map<String, Long> sectionNanos = new LinkedHashMap<>();
    private Map<String, Entry> current;
    private String currentName;
    private long sectionStart;

    public ProfilingBackend(Backend inner) {
        this.inner = inner;
        section("unsectioned");
    }

    /** Times from now on go to section {@code name} (added to what it already holds). */
    public void section(String name) {
        long now = System.nanoTime();
        if (currentName != null) {
            sectionNanos.merge(currentName, now - sectionStart, Long::sum);
        }
        currentName = name;
        current = sections.computeIfAbsent(name, k -> new LinkedHashMap<>());
        sectionStart = now;
    }

    /** The sections so far (the current one up to now), entries by descending wall time. */
    public List<Section> sections() {
        section(currentName);
        List<Section> out = new ArrayList<>();
        for (Map.Entry<String, Map<String, Entry>> s : sections.entrySet()) {
            List<Entry> entries = new ArrayList<>(s.getValue().values());
            entries.sort(Comparator.comparingLong((Entry e) -> e.wallNanos).reversed());
            out.add(new Section(s.getKey(), sectionNanos.getOrDefault(s.getKey(), 0L) / 1e9, entries));
        }
        return out;
    }

    /** The table of one section: per entry calls, seconds, share of the section, CPU/wall, GFLOP/s. */
    public static String render(Section s) {
        StringBuilder b = new StringBuilder();
        b.append(String.format("  %s: %.3f s wall, %.3f s in the backend, %.3f s outside it (Java between calls)%n",
                s.name(), s.seconds(), s.backendSeconds(), s.seconds() - s.backendSeconds()));
        b.append(String.format("    %-52s %7s %9s %6s %8s %8s%n", "operation", "calls", "seconds", "share", "cpu/wall",
                "GFLOP/s"));
        for (Entry e : s.entries()) {
            b.append(String.format("    %-52s %7d %9.4f %5.1f%% %8.2f %8s%n", e.key(), e.calls(), e.seconds(),
                    100 * e.seconds() / s.seconds(), e.wallNanos == 0 ? 0.0 : (double) e.cpuNanos / e.wallNanos,
                    e.flops() == 0 ? "" : String.format("%.1f", e.flops() / e.seconds() / 1e9)));
        }
        return b.toString();
    }

    // ---- timing ------------------------------------------------------------------------------------------------

    private long cpuNow() {
        return OS instanceof com.sun.management.OperatingSystemMXBean sun ? sun.getProcessCpuTime() : 0L;
    }

    private void record(String key, long wallStart, long cpuStart, double flops) {
        long wall = System.nanoTime() - wallStart;
        long cpu = cpuNow() - cpuStart;
        Entry e = current.computeIfAbsent(key, Entry::new);
        e.calls++;
        e.wallNanos += wall;
        e.cpuNanos += cpu;
        e.flops += flops;
    }

    private void timed(String key, double flops, Runnable call) {
        // every call goes to the inner backend, which never calls back here: calls do not nest
        long cpu = cpuNow();
        long wall = System.nanoTime();
        try {
            call.run();
        } finally {
            record(key, wall, cpu, flops);
        }
    }

    private <T> T timedValue(String key, java.util.function.Supplier<T> call) {
        long cpu = cpuNow();
        long wall = System.nanoTime();
        try {
            return call.get();
        } finally {
            record(key, wall, cpu, 0);
        }
    }

    private static String shape(Tensor t) {
        return java.util.Arrays.stream(t.shape()).mapToObj(Long::toString)
                .collect(java.util.stream.Collectors.joining("×"));
    }

    private static String gemmKey(String op, Tensor c, Tensor a, Transpose opA, Transpose opB) {
        long k = opA == Transpose.NONE ? a.dim(-1) : a.dim(-2);
        return String.format("%s%s %s m×n×k %d×%d×%d", op, c.dtype() == DType.F32 ? "(f32)" : "(f64)",
                (opA == Transpose.NONE ? "N" : "T") + (opB == Transpose.NONE ? "N" : "T"), c.dim(-2), c.dim(-1), k);
    }

    private static double gemmFlops(Tensor c, Tensor a, Transpose opA) {
        long k = opA == Transpose.NONE ? a.dim(-1) : a.dim(-2);
        return 2.0 * (c.size() / Math.max(1, c.dim(-1) * c.dim(-2))) * c.dim(-2) * c.dim(-1) * k;
    }

    // ---- Backend -----------------------------------------------------------------------------------------------

    @Override
    public String name() {
        return inner.name() + ", profiled";
    }

    @Override
    public Device device() {
        return inner.device();
    }

    @Override
    public Tensor allocate(Arena arena, DType dtype, long... shape) {
        return timedValue("allocate", () -> inner.allocate(arena, dtype, shape));
    }

    @Override
    public void copy(Tensor dst, Tensor src) {
        timed("copy " + shape(src) + (dst.dtype() == src.dtype() ? "" : " " + src.dtype() + "→" + dst.dtype()), 0,
                () -> inner.copy(dst, src));
    }

    @Override
    public void fill(Tensor dst, double value) {
        timed("fill " + shape(dst), 0, () -> inner.fill(dst, value));
    }

    @Override
    public void writeInts(Tensor dst, int[] values) {
        timed("writeInts", 0, () -> inner.writeInts(dst, values));
    }

    @Override
    public int[] readInts(Tensor src) {
        return timedValue("readInts", () -> inner.readInts(src));
    }

    @Override
    public void gemm(Tensor c, Tensor a, Transpose opA, Tensor b, Transpose opB, double alpha, double beta) {
        timed(gemmKey("gemm", c, a, opA, opB), gemmFlops(c, a, opA), () -> inner.gemm(c, a, opA, b, opB, alpha, beta));
    }

    @Override
    public void gemmBatched(Tensor c, Tensor a, Transpose opA, Tensor b, Transpose opB, double alpha, double beta) {
        StringBuilder batch = new StringBuilder();
        for (int d = 0; d < c.rank() - 2; d++) {
            batch.append(d == 0 ? "" : "×").append(c.dim(d));
        }
        timed(gemmKey("gemmBatched[" + batch + "]", c, a, opA, opB), gemmFlops(c, a, opA),
                () -> inner.gemmBatched(c, a, opA, b, opB, alpha, beta));
    }

    @Override
    public void syrkUpper(Tensor c, Tensor x, double alpha, double beta) {
        double n = x.dim(1);
        timed(String.format("syrk%s n×k %d×%d", x.dtype() == DType.F32 ? "(f32)" : "(f64)", x.dim(1), x.dim(0)),
                n * (n + 1) * x.dim(0), () -> inner.syrkUpper(c, x, alpha, beta));
    }

    @Override
    public void addUpper(Tensor dst, Tensor src, double alpha) {
        timed("addUpper " + shape(dst) + " " + src.dtype() + "→" + dst.dtype(), 0,
                () -> inner.addUpper(dst, src, alpha));
    }

    @Override
    public void symmetrizeFromUpper(Tensor a) {
        timed("symmetrizeFromUpper", 0, () -> inner.symmetrizeFromUpper(a));
    }

    @Override
    public SymmetricEigen eigh(Arena arena, Tensor a, boolean clipNegatives) {
        return timedValue("eigh " + shape(a), () -> inner.eigh(arena, a, clipNegatives));
    }

    @Override
    public void add(Tensor out, Tensor a, Tensor b) {
        timed("add " + shape(out), 0, () -> inner.add(out, a, b));
    }

    @Override
    public void mul(Tensor out, Tensor a, Tensor b) {
        timed("mul " + shape(out), 0, () -> inner.mul(out, a, b));
    }

    @Override
    public void scale(Tensor out, Tensor a, double alpha) {
        timed("scale " + shape(out), 0, () -> inner.scale(out, a, alpha));
    }

    @Override
    public void axpy(Tensor y, Tensor x, double alpha) {
        timed("axpy " + shape(y), 0, () -> inner.axpy(y, x, alpha));
    }

    @Override
    public void rowMax(Tensor out, Tensor x) {
        timed("rowMax " + shape(x), 0, () -> inner.rowMax(out, x));
    }

    @Override
    public void rowSum(Tensor out, Tensor x) {
        timed("rowSum " + shape(x), 0, () -> inner.rowSum(out, x));
    }

    @Override
    public void rowArgmax(Tensor out, Tensor x) {
        timed("rowArgmax " + shape(x), 0, () -> inner.rowArgmax(out, x));
    }

    @Override
    public void rowTopK(Tensor out, Tensor x) {
        timed("rowTopK " + shape(x), 0, () -> inner.rowTopK(out, x));
    }

    @Override
    public void softmaxRows(Tensor y, Tensor x) {
        timed("softmaxRows " + shape(x), 0, () -> inner.softmaxRows(y, x));
    }

    @Override
    public void softmaxRowsBackward(Tensor dx, Tensor dy, Tensor y) {
        timed("softmaxRowsBackward " + shape(y), 0, () -> inner.softmaxRowsBackward(dx, dy, y));
    }

    @Override
    public void geluTanh(Tensor y, Tensor x) {
        timed("geluTanh " + shape(x), 0, () -> inner.geluTanh(y, x));
    }

    @Override
    public void geluTanhBackward(Tensor dx, Tensor dy, Tensor x) {
        timed("geluTanhBackward " + shape(x), 0, () -> inner.geluTanhBackward(dx, dy, x));
    }

    @Override
    public void addRowVector(Tensor y, Tensor v) {
        timed("addRowVector " + shape(y), 0, () -> inner.addRowVector(y, v));
    }

    @Override
    public void sumRowsInto(Tensor dv, Tensor dy) {
        timed("sumRowsInto " + shape(dy), 0, () -> inner.sumRowsInto(dv, dy));
    }

    @Override
    public void layerNorm(Tensor y, Tensor mean, Tensor rstd, Tensor x, Tensor weight, Tensor bias, double eps) {
        timed("layerNorm " + shape(x), 0, () -> inner.layerNorm(y, mean, rstd, x, weight, bias, eps));
    }

    @Override
    public void layerNormBackward(Tensor dx, Tensor dWeight, Tensor dBias, Tensor dy, Tensor x, Tensor weight,
                                  Tensor mean, Tensor rstd) {
        timed("layerNormBackward " + shape(x), 0,
                () -> inner.layerNormBackward(dx, dWeight, dBias, dy, x, weight, mean, rstd));
    }

    @Override
    public void rmsNorm(Tensor y, Tensor rstd, Tensor x, Tensor weight, double eps) {
        timed("rmsNorm " + shape(x), 0, () -> inner.rmsNorm(y, rstd, x, weight, eps));
    }

    @Override
    public void rmsNormBackward(Tensor dx, Tensor dWeight, Tensor dy, Tensor x, Tensor weight, Tensor rstd) {
        timed("rmsNormBackward " + shape(x), 0, () -> inner.rmsNormBackward(dx, dWeight, dy, x, weight, rstd));
    }

    @Override
    public void rotary(Tensor y, Tensor x, Tensor cos, Tensor sin, int headDim, int time, int offset,
                       boolean inverse) {
        timed("rotary " + shape(x), 0, () -> inner.rotary(y, x, cos, sin, headDim, time, offset, inverse));
    }

    @Override
    public void swiglu(Tensor h, Tensor gate, Tensor up) {
        timed("swiglu " + shape(h), 0, () -> inner.swiglu(h, gate, up));
    }

    @Override
    public void swigluBackward(Tensor dGate, Tensor dUp, Tensor dh, Tensor gate, Tensor up) {
        timed("swigluBackward " + shape(dh), 0, () -> inner.swigluBackward(dGate, dUp, dh, gate, up));
    }

    @Override
    public void gatherRows(Tensor out, Tensor table, Tensor ids) {
        timed("gatherRows " + shape(out), 0, () -> inner.gatherRows(out, table, ids));
    }

    @Override
    public void scatterAddRows(Tensor dTable, Tensor dOut, Tensor ids) {
        timed("scatterAddRows " + shape(dOut), 0, () -> inner.scatterAddRows(dTable, dOut, ids));
    }

    @Override
    public void causalSoftmax(Tensor y, Tensor x, double scale) {
        timed("causalSoftmax " + shape(x), 0, () -> inner.causalSoftmax(y, x, scale));
    }

    @Override
    public void causalSoftmaxBackward(Tensor dx, Tensor dy, Tensor y, double scale) {
        timed("causalSoftmaxBackward " + shape(y), 0, () -> inner.causalSoftmaxBackward(dx, dy, y, scale));
    }

    @Override
    public void crossEntropy(Tensor losses, Tensor logSumExp, Tensor logits, Tensor targets) {
        timed("crossEntropy " + shape(logits), 0, () -> inner.crossEntropy(losses, logSumExp, logits, targets));
    }

    @Override
    public void crossEntropyBackward(Tensor dLogits, Tensor logits, Tensor logSumExp, Tensor targets, double scale) {
        timed("crossEntropyBackward " + shape(logits), 0,
                () -> inner.crossEntropyBackward(dLogits, logits, logSumExp, targets, scale));
    }

    @Override
    public void sampleSoftmaxRows(Tensor out, Tensor logits, Tensor mask, long streamSeed) {
        timed("sampleSoftmaxRows " + shape(logits), 0, () -> inner.sampleSoftmaxRows(out, logits, mask, streamSeed));
    }

    @Override
    public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, double lr, double beta1, double beta2, double eps,
                      double weightDecay, long step) {
        timed("adamw", 0, () -> inner.adamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step));
    }

    @Override
    public double sum(Tensor a) {
        return timedValue("sum " + shape(a), () -> inner.sum(a));
    }

    @Override
    public double dot(Tensor a, Tensor b) {
        return timedValue("dot " + shape(a), () -> inner.dot(a, b));
    }

    @Override
    public double sumOfSquares(List<Tensor> tensors) {
        return timedValue("sumOfSquares", () -> inner.sumOfSquares(tensors));
    }

    @Override
    public void requireFinite(Tensor t, String purpose) {
        timed("requireFinite " + shape(t), 0, () -> inner.requireFinite(t, purpose));
    }

    @Override
    public void close() {
        inner.close();
    }
}
