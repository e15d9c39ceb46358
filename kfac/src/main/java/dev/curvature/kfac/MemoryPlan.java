package dev.curvature.kfac;

import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.model.LinearLayer;
import dev.curvature.transformer.model.ModelConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a collect, spectrum or edit run will allocate off-heap, item by item, computed from the model's config and
 * the factor files' headers before anything is loaded, so that a run that cannot fit is refused before its first
 * allocation. Every item is the exact byte count of a buffer the code allocates (the parameters, the workspace,
 * each factor sum, scratch, write buffers); items that live at different times are still summed, so the total is
 * an upper bound on the peak. The Java heap (-Xmx: token ids, small arrays) comes on top.
 */
public final class MemoryPlan {
    /** Environment variable that overrides the available memory, e.g. "8g". */
    public static final String LIMIT_VARIABLE = "CURVATURE_MEMORY_LIMIT";

    private static final long F64 = 8;

    /**
     * One buffer (or a set of buffers that live together).
     *
     * @param group what it is part of ("parameters", "K-FAC factors", ...), for the summary
     * @param name  what it is ("G of model.layers.23.mlp.gate_proj")
     * @param bytes its size
     * @param shape how the size comes about ("11008² float64")
     */
    public record Item(String group, String name, long bytes, String shape) {
        /** "G of … (11008² float64, 0.9 GiB)". */
        public String describe() {
            return name + " (" + shape + ", " + MemoryPlan.bytes(bytes) + ")";
        }
    }

    /**
     * The memory a run may use.
     *
     * @param bytes  the limit; negative when unknown (no refusal)
     * @param source where it comes from ("--memory-limit", "CURVATURE_MEMORY_LIMIT", "MemAvailable")
     */
    public record Available(long bytes, String source) {
        public boolean known() {
            return bytes >= 0;
        }
    }

    /** Thrown when a plan needs more than is available; the message names the total, the limit and the largest item. */
    public static final class InsufficientMemoryException extends IllegalStateException {
        InsufficientMemoryException(String message) {
            super(message);
        }
    }

    private final String title;
    private final List<Item> items;

    private MemoryPlan(String title, List<Item> items) {
        this.title = title;
        this.items = List.copyOf(items);
    }

    /**
     * A collection run ({@link FactorCollection} over a {@link KfacCollector}): the parameters in the compute dtype;
     * the workspace of a (batch, time) batch; per collected layer its float64 sums A (d_in², one per shared input:
     * gate_proj and up_proj share one) and G (d_out²); the accumulators' batch buffers (F32 compute with float64
     * sums: one float32 XᵀX buffer that all sums share, the largest d² times the row blocks the CPU backend splits a
     * tall batch into, {@link CpuBackend#syrkRowBlocks(int, long, long)}; F32 compute with exact sums: float64
     * copies of the batch's counted rows per sum, B·(T−1) × d; F64 compute: none); the collector's gather scratch B·T × max d in the compute dtype and its
     * B·T int32 row indices and sampled labels; and the factor file writer's float64 copy of every A and G (A once
     * per layer, also where shared).
     *
     * @param selected the layers collected, in model order (as {@link LayerSelection#select(List)} picks them)
     * @param threads  the CPU backend's worker count
     */
    public static MemoryPlan collection(ModelConfig config, DType dtype, int batch, int time,
                                        List<LinearLayer> selected, CovariancePrecision precision, int threads) {
        List<Item> items = new ArrayList<>();
        addModel(items, config, dtype);
        items.add(new Item("activations", "activations (forward/backward workspace)",
                config.workspaceBytes(batch, time, dtype), "batch " + batch + " × " + time + " tokens, " + name(dtype)));
        long rows = (long) batch * time;
        long counted = (long) batch * (time - 1);
        Map<String, String> owners = new HashMap<>();   // input group → the selected layer that holds its A
        List<long[]> sums = new ArrayList<>();        // {dim} of every accumulator
        List<String> sumNames = new ArrayList<>();
        int maxDim = 0;
        for (LinearLayer layer : selected) {
            String owner = owners.putIfAbsent(layer.inputGroup(), layer.name());
            if (owner != null) {                       // a selected layer of its input group came first
                items.add(new Item("K-FAC factors", "A of " + layer.name() + " (shared with " + owner + ")", 0,
                        "no memory of its own"));
            } else {
                items.add(square("K-FAC factors", "A of " + layer.name(), layer.dIn(), F64));
                sums.add(new long[]{layer.dIn()});
                sumNames.add("A of " + layer.name());
            }
            items.add(square("K-FAC factors", "G of " + layer.name(), layer.dOut(), F64));
            sums.add(new long[]{layer.dOut()});
            sumNames.add("G of " + layer.name());
            maxDim = Math.max(maxDim, Math.max(layer.dIn(), layer.dOut()));
        }
        if (dtype == DType.F32 && precision == CovariancePrecision.F32_WITH_F64_SUMS && !sums.isEmpty()) {
            // one buffer shared by every sum (CovarianceScratch), as large as the largest blocks · d²
            long largest = 0;
            String detail = "";
            for (long[] sum : sums) {
                long d = sum[0];
                int blocks = CpuBackend.syrkRowBlocks(threads, counted, d);
                if ((long) blocks * d * d > largest) {
                    largest = (long) blocks * d * d;
                    detail = blocks == 1 ? d + "² float32" : blocks + " row blocks × " + d + "² float32";
                }
            }
            items.add(new Item("accumulator batch buffers", "float32 batch XᵀX, shared by all sums",
                    largest * DType.F32.byteSize(), detail));
        }
        for (int i = 0; i < sums.size(); i++) {
            long d = sums.get(i)[0];
            if (dtype == DType.F32 && precision == CovariancePrecision.F64_EXACT) {
                items.add(new Item("accumulator batch buffers", "float64 batch rows of " + sumNames.get(i),
                        counted * d * F64, counted + " × " + d + " float64"));
            }
        }
        items.add(new Item("collector scratch", "gathered counted rows", rows * maxDim * dtype.byteSize(),
                rows + " × " + maxDim + " " + name(dtype)));
        items.add(new Item("collector scratch", "row indices and sampled labels", 2 * rows * DType.I32.byteSize(),
                "2 × " + rows + " int32"));
        for (LinearLayer layer : selected) {
            items.add(square("factor file write", "file copy of A of " + layer.name(), layer.dIn(), F64));
            items.add(square("factor file write", "file copy of G of " + layer.name(), layer.dOut(), F64));
        }
        return new MemoryPlan("collect: " + name(dtype) + ", batch " + batch + " × " + time + ", "
                + selected.size() + " layers", items);
    }

    /**
     * {@code spectrum} over a factor file with {@code layers}: every A and G read (d² float64 each; the file holds A
     * per layer, also where shared); the eigenbasis being built ({@link FactorEigenbasis}: per factor a float64
     * copy, its eigenvectors and eigenvalues), for the largest layer, or for every layer when {@code keepEigenbases}
     * (they are written together at the end, with float64 copies of the eigenvalues); and the eigendecomposition
     * scratch of the largest factor ({@link #eigendecompositionScratch}).
     */
    public static MemoryPlan spectrum(List<FactorStore.Layer> layers, boolean keepEigenbases) {
        List<Item> items = new ArrayList<>();
        addFactorsRead(items, layers);
        addBasesBuilt(items, layers, keepEigenbases);
        if (keepEigenbases) {
            long values = 0;
            for (FactorStore.Layer l : layers) {
                values += ((long) l.dIn() + l.dOut()) * F64;
            }
            items.add(new Item("eigenbasis file write", "eigenvalue copies", values, "λ and μ of every layer, float64"));
        }
        items.add(eigendecompositionScratch(largestFactor(layers)));
        return new MemoryPlan("spectrum: " + layers.size() + " layers", items);
    }

    /**
     * {@code edit} of {@code edited} (layer names) of a model: the parameters in the compute dtype; the source read
     * whole — every A and G of the factor file ({@code fromFactors}), or every stored eigenbasis (U_G, λ, U_A, μ in
     * float64); with factors, the eigenbasis of the largest edited layer being built and the eigendecomposition
     * scratch of its largest factor; the snapshot of every edited weight in the compute dtype (kept until all layers
     * are done, to restore on failure); the temporaries of C = U_Gᵀ W U_A and W' (W, W·U_A, C: three d_out × d_in
     * float64) of the largest edited layer; and the checkpoint writer's copy of every tensor in {@code storage}.
     *
     * @param sourceLayers the layers of the factor or eigenbasis file, from its header
     */
    public static MemoryPlan edit(ModelConfig config, DType dtype, DType storage, List<FactorStore.Layer> sourceLayers,
                                  boolean fromFactors, List<String> edited) {
        List<Item> items = new ArrayList<>();
        addModel(items, config, dtype);
        Map<String, FactorStore.Layer> byName = new LinkedHashMap<>();
        sourceLayers.forEach(l -> byName.put(l.name(), l));
        List<FactorStore.Layer> editedLayers = new ArrayList<>();
        for (String name : edited) {
            FactorStore.Layer l = byName.get(name);
            if (l != null) {
                editedLayers.add(l);
            }
        }
        if (fromFactors) {
            addFactorsRead(items, sourceLayers);
            addBasesBuilt(items, editedLayers, false);
            if (!editedLayers.isEmpty()) {
                items.add(eigendecompositionScratch(largestFactor(editedLayers)));
            }
        } else {
            for (FactorStore.Layer l : sourceLayers) {
                long d = ((long) l.dOut() * l.dOut() + l.dOut() + (long) l.dIn() * l.dIn() + l.dIn()) * F64;
                items.add(new Item("eigenbases read", "eigenbasis of " + l.name(), d,
                        "U_G " + l.dOut() + "², U_A " + l.dIn() + "² and their eigenvalues, float64"));
            }
        }
        long snapshot = 0;
        long largestWeight = 0;
        String largestName = null;
        for (FactorStore.Layer l : editedLayers) {
            long size = (long) l.dOut() * l.dIn();
            snapshot += size * dtype.byteSize();
            if (size > largestWeight) {
                largestWeight = size;
                largestName = l.name();
            }
        }
        items.add(new Item("edit", "snapshot of the edited weights", snapshot,
                editedLayers.size() + " weights, " + name(dtype)));
        if (largestName != null) {
            FactorStore.Layer l = byName.get(largestName);
            items.add(new Item("edit", "C = U_Gᵀ W U_A temporaries of " + largestName, 3 * largestWeight * F64,
                    "3 × " + l.dOut() + " × " + l.dIn() + " float64"));
        }
        items.add(new Item("checkpoint write", "every tensor in the storage dtype",
                config.parameterCount() * storage.byteSize(), config.parameterCount() + " × " + name(storage)));
        return new MemoryPlan("edit: " + name(dtype) + ", " + editedLayers.size() + " layers", items);
    }

    /**
     * The scratch of one float64 eigendecomposition of an n × n factor on the CPU backend: the column-major copy
     * LAPACK overwrites (n²) and its eigenvalues (n), beside either dsyevd's workspace (lwork = 1 + 6n + 2n²
     * doubles, liwork = 3 + 5n ints) or, after it, the quality check's three n² float64 products — whichever is
     * larger, as they do not coexist.
     */
    public static Item eigendecompositionScratch(long n) {
        long lapack = (1 + 6 * n + 2 * n * n) * F64 + (3 + 5 * n) * DType.I32.byteSize();
        long check = 3 * n * n * F64;
        long bytes = n * n * F64 + n * F64 + Math.max(lapack, check);
        return new Item("eigendecomposition", "eigendecomposition scratch (n = " + n + ")", bytes,
                "copy n² + dsyevd work (1+6n+2n² doubles, 3+5n ints) or the quality check's 3n², float64");
    }

    private static long largestFactor(List<FactorStore.Layer> layers) {
        long n = 1;
        for (FactorStore.Layer l : layers) {
            n = Math.max(n, Math.max(l.dIn(), l.dOut()));
        }
        return n;
    }

    private static void addModel(List<Item> items, ModelConfig config, DType dtype) {
        long count = config.parameterCount();
        items.add(new Item("parameters", "parameters of the " + config.modelType() + " model", count * dtype.byteSize(),
                String.format(Locale.ROOT, "%,d × %s", count, name(dtype))));
    }

    private static void addFactorsRead(List<Item> items, List<FactorStore.Layer> layers) {
        for (FactorStore.Layer l : layers) {
            items.add(square("K-FAC factors read", "A of " + l.name(), l.dIn(), F64));
            items.add(square("K-FAC factors read", "G of " + l.name(), l.dOut(), F64));
        }
    }

    /** {@link FactorEigenbasis#of}: per factor the float64 input copy (d²), eigenvectors (d²) and eigenvalues (d). */
    private static void addBasesBuilt(List<Item> items, List<FactorStore.Layer> layers, boolean all) {
        List<FactorStore.Layer> built = new ArrayList<>(layers);
        if (!all && !built.isEmpty()) {
            built.sort(Comparator.comparingLong(MemoryPlan::basisBytes).reversed());
            built = List.of(built.get(0));
        }
        for (FactorStore.Layer l : built) {
            items.add(new Item("eigenbases built", "eigenbasis of " + l.name() + (all ? "" : " (one layer at a time)"),
                    basisBytes(l), "A/n and G/n, U_A " + l.dIn() + "², U_G " + l.dOut() + "², μ, λ, float64"));
        }
    }

    private static long basisBytes(FactorStore.Layer l) {
        long a = l.dIn();
        long g = l.dOut();
        return (2 * a * a + a + 2 * g * g + g) * F64;
    }

    private static Item square(String group, String name, long d, long elementBytes) {
        return new Item(group, name, d * d * elementBytes, d + "² " + (elementBytes == F64 ? "float64" : "float32"));
    }

    /** The items, in plan order. */
    public List<Item> items() {
        return items;
    }

    /** Sum of all items (an upper bound on the peak). */
    public long total() {
        long total = 0;
        for (Item i : items) {
            total += i.bytes();
        }
        return total;
    }

    /** The biggest single item. */
    public Item largest() {
        return items.stream().max(Comparator.comparingLong(Item::bytes)).orElseThrow();
    }

    /** The plan for people: the total against what is available, then each group's total and its largest item. */
    public String render(Available available) {
        StringBuilder s = new StringBuilder(String.format("memory plan (%s): %s%s%n", title, bytes(total()),
                available.known() ? " of " + bytes(available.bytes()) + " available (" + available.source() + ")"
                        : " (available memory unknown)"));
        Map<String, List<Item>> groups = new LinkedHashMap<>();
        items.forEach(i -> groups.computeIfAbsent(i.group(), g -> new ArrayList<>()).add(i));
        for (Map.Entry<String, List<Item>> g : groups.entrySet()) {
            long sum = g.getValue().stream().mapToLong(Item::bytes).sum();
            Item top = g.getValue().stream().max(Comparator.comparingLong(Item::bytes)).orElseThrow();
            String detail = g.getValue().size() == 1 ? top.name() + " (" + top.shape() + ")"
                    : g.getValue().size() + " items, largest " + top.describe();
            s.append(String.format("  %-26s %10s  %s%n", g.getKey(), bytes(sum), detail));
        }
        s.append("  (native memory, items summed; the Java heap comes on top)").append(System.lineSeparator());
        return s.toString();
    }

    /**
     * Refuses a plan that needs more than {@code available}, naming the total, the limit and the largest item;
     * {@code advice} says how to shrink the run (e.g. "reduce --batch, --time or --layers").
     *
     * @throws InsufficientMemoryException when the plan does not fit
     */
    public void requireFits(Available available, String advice) {
        if (available.known() && total() > available.bytes()) {
            throw new InsufficientMemoryException(String.format("refusing: the plan needs %s but %s %s available "
                            + "(%s); the largest item is %s; %s, or use --memory-limit (or %s) to override",
                    bytes(total()), bytes(available.bytes()), available.bytes() == 1 ? "is" : "are",
                    available.source(), largest().describe(), advice, LIMIT_VARIABLE));
        }
    }

    /**
     * The memory a run may use: {@code limitOption} (--memory-limit) if given, else {@code environmentValue}
     * ({@value #LIMIT_VARIABLE}) if set, else MemAvailable of {@code meminfo} (/proc/meminfo), else unknown.
     */
    public static Available available(String limitOption, String environmentValue, Path meminfo) {
        if (limitOption != null && !limitOption.isBlank()) {
            return new Available(parseSize(limitOption), "--memory-limit");
        }
        if (environmentValue != null && !environmentValue.isBlank()) {
            return new Available(parseSize(environmentValue), LIMIT_VARIABLE);
        }
        try {
            for (String line : Files.readAllLines(meminfo)) {
                if (line.startsWith("MemAvailable:")) {
                    String[] parts = line.substring("MemAvailable:".length()).trim().split("\\s+");
                    long value = Long.parseLong(parts[0]);
                    return new Available(parts.length > 1 && parts[1].equalsIgnoreCase("kB") ? value * 1024 : value,
                            "MemAvailable");
                }
            }
        } catch (IOException | RuntimeException unreadable) {
            // no /proc (not Linux) or an unexpected format: the limit is unknown and nothing is refused
        }
        return new Available(-1, "unknown");
    }

    /** The memory a run may use, from the option, {@value #LIMIT_VARIABLE} and /proc/meminfo. */
    public static Available available(String limitOption) {
        return available(limitOption, System.getenv(LIMIT_VARIABLE), Path.of("/proc/meminfo"));
    }

    /**
     * Bytes of a size such as "8g", "512M", "1.5GiB", "64GB" or "1000000" (binary units: k = 1024); a bad size is an
     * error naming it.
     */
    public static long parseSize(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT).replace(" ", "");
        String number = t.replaceFirst("[a-z]+$", "");
        String unit = t.substring(number.length());
        long scale = switch (unit) {
            case "", "b" -> 1L;
            case "k", "kb", "kib" -> 1L << 10;
            case "m", "mb", "mib" -> 1L << 20;
            case "g", "gb", "gib" -> 1L << 30;
            case "t", "tb", "tib" -> 1L << 40;
            default -> throw new IllegalArgumentException("memory size '" + text + "': unknown unit '" + unit
                    + "' (use e.g. 8g, 512m, 1.5GiB)");
        };
        double value;
        try {
            value = Double.parseDouble(number);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("memory size '" + text + "' is not a number with an optional unit "
                    + "(e.g. 8g, 512m, 1.5GiB)");
        }
        if (!(value >= 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException("memory size '" + text + "' must be a non-negative number");
        }
        return Math.round(value * scale);
    }

    /** "0.9 GiB", "12.0 MiB", "3.4 KiB", "17 B". */
    public static String bytes(long bytes) {
        if (bytes >= 1L << 30) {
            return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
        }
        if (bytes >= 1L << 20) {
            return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
        }
        if (bytes >= 1L << 10) {
            return String.format(Locale.ROOT, "%.1f KiB", bytes / (double) (1L << 10));
        }
        return bytes + " B";
    }

    private static String name(DType dtype) {
        return switch (dtype) {
            case F64 -> "float64";
            case F32 -> "float32";
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            default -> dtype.name().toLowerCase(Locale.ROOT);
        };
    }
}
