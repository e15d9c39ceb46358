package dev.curvature.engine;

import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Times every call of another backend, per operation and — for the products — per shape, so a step's
 * time can be split into its GEMMs by role (a GPT-2 layer's QKV, projection and MLP products each have their own
 * (m, n, k)), the attention's small products, the elementwise kernels and what runs outside the backend. Only a
 * caller that wants the breakdown wraps its backend in this and computes with {@link #backend()}; the plain backend
 * pays nothing.
 *
 * <p>Each entry keeps calls, wall time, process CPU time (all threads: CPU/wall ≈ the cores the call kept busy, so
 * a single-threaded stretch shows as ≈ 1 on a 2-core run) and the flops of the GEMM/SYRK calls (2mnk, n(n+1)k).
 * Times are collected into the current {@link #section} ("plain", "collection", ...), so one run can report the
 * two kinds of step apart.
 *
 * <p>One mechanism times every {@link Backend} method, so a method added to the interface is profiled without a
 * line here: a proxy whose key is the method's name and the shape of its largest tensor argument (with the dtype
 * conversion of a two-tensor call such as copy), and for GEMM and SYRK the transposes, m×n×k and flops.
 */
public final class ProfilingBackend {
    private static final OperatingSystemMXBean OS = ManagementFactory.getOperatingSystemMXBean();

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
    private final Backend timed;
    private final Map<String, Map<String, Entry>> sections = new LinkedHashMap<>();
    private final Map<String, Long> sectionNanos = new LinkedHashMap<>();
    private Map<String, Entry> current;
    private String currentName;
    private long sectionStart;

    public ProfilingBackend(Backend inner) {
        this.inner = inner;
        this.timed = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[]{Backend.class},
                (proxy, method, args) -> invoke(method, args));
        section("unsectioned");
    }

    /** The backend to compute with: every call goes to the wrapped one, timed into the current section. */
    public Backend backend() {
        return timed;
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

    private Object invoke(Method method, Object[] args) throws Throwable {
        String name = method.getName();
        if (method.getDeclaringClass() == Object.class) {
            return switch (name) {
                case "toString" -> name();
                case "hashCode" -> System.identityHashCode(timed);
                default -> args[0] == timed;          // equals
            };
        }
        switch (name) {
            case "name" -> {
                return name();
            }
            case "device", "close" -> {
                return call(method, args);
            }
            default -> {
                // every call goes to the inner backend, which never calls back here: calls do not nest
                String key = key(name, args);
                double flops = flops(name, args);
                long cpu = cpuNow();
                long wall = System.nanoTime();
                try {
                    return call(method, args);
                } finally {
                    long wallNanos = System.nanoTime() - wall;
                    long cpuNanos = cpuNow() - cpu;
                    Entry e = current.computeIfAbsent(key, Entry::new);
                    e.calls++;
                    e.wallNanos += wallNanos;
                    e.cpuNanos += cpuNanos;
                    e.flops += flops;
                }
            }
        }
    }

    private String name() {
        return inner.name() + ", profiled";
    }

    private Object call(Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(inner, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    /** "gemm(f32) NT m×n×k 1024×2304×768", "syrk(f32) n×k 3072×1020", "geluTanh 1024×3072", "copy 8×8 F64→F32". */
    private static String key(String name, Object[] args) {
        List<Tensor> tensors = args == null ? List.of()
                : Arrays.stream(args).filter(Tensor.class::isInstance).map(Tensor.class::cast).toList();
        switch (name) {
            case "gemm", "gemmBatched" -> {
                Tensor c = tensors.get(0);
                Tensor a = tensors.get(1);
                Transpose opA = (Transpose) args[2];
                Transpose opB = (Transpose) args[4];
                String op = name;
                if (name.equals("gemmBatched")) {
                    op += "[" + Arrays.stream(c.shape()).limit(c.rank() - 2).mapToObj(Long::toString)
                            .collect(Collectors.joining("×")) + "]";
                }
                long k = opA == Transpose.NONE ? a.dim(-1) : a.dim(-2);
                return String.format("%s%s %s m×n×k %d×%d×%d", op, dtypeTag(c), (opA == Transpose.NONE ? "N" : "T")
                        + (opB == Transpose.NONE ? "N" : "T"), c.dim(-2), c.dim(-1), k);
            }
            case "syrkUpper" -> {
                Tensor x = tensors.get(1);
                return String.format("syrk%s n×k %d×%d", dtypeTag(x), x.dim(1), x.dim(0));
            }
            default -> {
                if (tensors.isEmpty()) {
                    return name;
                }
                Tensor largest = tensors.stream().max(Comparator.comparingLong(Tensor::size)).orElseThrow();
                String key = name + " " + shape(largest);
                if (tensors.size() == 2 && tensors.get(0).dtype() != tensors.get(1).dtype()) {
                    key += " " + tensors.get(1).dtype() + "→" + tensors.get(0).dtype();   // (dst, src) calls
                }
                return key;
            }
        }
    }

    /** Counted flops of a call: GEMM 2mnk per product, SYRK n(n+1)k (the upper triangle); 0 otherwise. */
    private static double flops(String name, Object[] args) {
        switch (name) {
            case "gemm", "gemmBatched" -> {
                Tensor c = (Tensor) args[0];
                Tensor a = (Tensor) args[1];
                long k = (Transpose) args[2] == Transpose.NONE ? a.dim(-1) : a.dim(-2);
                return 2.0 * c.size() * k;
            }
            case "syrkUpper" -> {
                Tensor x = (Tensor) args[1];
                double n = x.dim(1);
                return n * (n + 1) * x.dim(0);
            }
            default -> {
                return 0;
            }
        }
    }

    private static String dtypeTag(Tensor t) {
        return t.dtype() == DType.F32 ? "(f32)" : "(f64)";
    }

    private static String shape(Tensor t) {
        return Arrays.stream(t.shape()).mapToObj(Long::toString).collect(Collectors.joining("×"));
    }
}
