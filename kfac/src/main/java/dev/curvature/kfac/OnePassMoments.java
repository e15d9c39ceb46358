package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.engine.Transpose;
import dev.curvature.transformer.checkpoint.SafetensorsFile;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The extra accumulators of EK-FAC's one-pass approximation, collected beside the K-FAC factors over the same
 * counted rows (float64 sums, same count n): per layer M_G = Σ_t ‖a_t‖² g_t g_tᵀ (d_out, d_out) and
 * M_A = Σ_t ‖g_t‖² a_t a_tᵀ (d_in, d_in).
 *
 * <p><b>The approximation ({@link #approximate}).</b> The token-level corrected eigenvalues are
 * Λ_ij = E_t[(u_iᵀ g_t)² (v_jᵀ a_t)²]. Because U_A and U_G are orthogonal, their marginals are exact functions of
 * the accumulators: r_i = Σ_j Λ_ij = E[(u_iᵀ g)² ‖a‖²] = u_iᵀ (M_G/n) u_i and c_j = Σ_i Λ_ij = v_jᵀ (M_A/n) v_j, and
 * both sum to s = ΣΛ = E[‖g‖² ‖a‖²]. The one-pass estimate is the rank-one table with exactly these marginals,
 * Λ̂_ij = r_i c_j / s (the independence table of a contingency analysis): it has the true row and column sums and
 * the true total, and errs only in how mass is spread inside them (Λ − Λ̂ has zero row and column sums). When g and
 * a are independent (K-FAC's own assumption), r_i = λ_i tr A, c_j = μ_j tr G and Λ̂_ij = λ_i μ_j: the estimate
 * reduces to K-FAC, and departs from it exactly where the norms ‖a‖, ‖g‖ correlate with the directions of g, a.
 * It estimates the TOKEN-level Λ; the per-window Λ also holds cross-position terms that no token moment sees.
 *
 * <p>On disk: inside the factor file, {@code <layer>.G_by_a_norm} (M_G) and {@code <layer>.A_by_g_norm} (M_A), with
 * the layer's positions n from the factor description.
 */
public final class OnePassMoments implements AutoCloseable {
    public static final String GRADIENT_SUFFIX = ".G_by_a_norm";
    public static final String ACTIVATION_SUFFIX = ".A_by_g_norm";

    /** One layer's two sums. */
    public record Layer(String name, Tensor gradientMoment, Tensor activationMoment) {
    }

    private final Backend backend;
    private final Arena arena = Arena.ofShared();
    private final Map<String, Layer> layers = new LinkedHashMap<>();
    private final Map<String, Tensor> inputs = new LinkedHashMap<>();   // layer → counted rows of x (capacity·q)
    private final Map<String, Long> inputRows = new LinkedHashMap<>();
    private Tensor gradients;      // capacity · max p: counted rows of g, float64
    private Tensor weighted;       // capacity · max d: rows scaled by the other side's squared norm
    private Tensor norms;          // capacity: squared row norms
    private Tensor ones;           // max d ones, to spread a norm over a row by a rank-one GEMM
    private long capacity;

    private OnePassMoments(Backend backend) {
        this.backend = backend;
    }

    /** Zero sums for layers name → {d_out, d_in}. */
    public static OnePassMoments zeros(Backend backend, Map<String, int[]> shapes) {
        OnePassMoments out = new OnePassMoments(backend);
        try {
            shapes.forEach((name, s) -> out.layers.put(name, new Layer(name,
                    backend.allocate(out.arena, DType.F64, s[0], s[0]).named(name + GRADIENT_SUFFIX),
                    backend.allocate(out.arena, DType.F64, s[1], s[1]).named(name + ACTIVATION_SUFFIX))));
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    public Map<String, Layer> layers() {
        return Collections.unmodifiableMap(layers);
    }

    /** Buffers for batches of up to {@code rows} counted rows. */
    void reserve(long rows) {
        if (rows <= capacity) {
            return;
        }
        int maxP = 0;
        int maxD = 0;
        for (Layer l : layers.values()) {
            maxP = Math.max(maxP, (int) l.gradientMoment().dim(0));
            maxD = Math.max(maxD, (int) Math.max(l.gradientMoment().dim(0), l.activationMoment().dim(0)));
        }
        capacity = rows;
        gradients = backend.allocate(arena, DType.F64, rows * maxP);
        weighted = backend.allocate(arena, DType.F64, rows * maxD);
        norms = backend.allocate(arena, DType.F64, rows);
        ones = backend.allocate(arena, DType.F64, maxD);
        backend.fill(ones, 1.0);
        inputs.clear();
        for (Layer l : layers.values()) {
            inputs.put(l.name(), backend.allocate(arena, DType.F64, rows * l.activationMoment().dim(0)));
        }
    }

    /** Forward: the counted input rows x (n, q) of {@code layer}, kept (as float64) until its backward. */
    void input(String layer, Tensor x) {
        backend.copy(matrix(inputs.get(layer), x.dim(0), x.dim(1)), x);
        inputRows.put(layer, x.dim(0));
    }

    /** Backward: the counted output-gradient rows g (n, p) of {@code layer}; adds to M_G and M_A. */
    void gradient(String layer, Tensor dy) {
        long n = dy.dim(0);
        if (!Long.valueOf(n).equals(inputRows.get(layer))) {
            throw new IllegalStateException("layer " + layer + ": " + n + " gradient rows after "
                    + inputRows.get(layer) + " input rows");
        }
        Layer sums = layers.get(layer);
        Tensor g = matrix(gradients, n, dy.dim(1));
        backend.copy(g, dy);
        Tensor x = matrix(inputs.get(layer), n, sums.activationMoment().dim(0));
        addWeighted(sums.gradientMoment(), g, x);      // M_G += Σ ‖a_t‖² g_t g_tᵀ
        addWeighted(sums.activationMoment(), x, g);    // M_A += Σ ‖g_t‖² a_t a_tᵀ
    }

    /** sum += Σ_t ‖w_t‖² v_t v_tᵀ = Vᵀ (diag(‖w‖²) V) for V (n, d), W (n, e). */
    private void addWeighted(Tensor sum, Tensor v, Tensor w) {
        long n = v.dim(0);
        long d = v.dim(1);
        Tensor squares = matrix(weighted, n, w.dim(1));
        backend.mul(squares, w, w);
        Tensor norm = norms.slice(0, 0, n);
        backend.rowSum(norm, squares);                                   // ‖w_t‖²
        Tensor scaled = matrix(weighted, n, d);
        backend.gemm(scaled, norm.reshape(n, 1), Transpose.NONE, ones.slice(0, 0, d).reshape(1, d), Transpose.NONE,
                1.0, 0.0);                                               // ‖w_t‖² in every column of row t
        backend.mul(scaled, scaled, v);
        backend.gemm(sum, v, Transpose.TRANSPOSED, scaled, Transpose.NONE, 1.0, 1.0);
    }

    private static Tensor matrix(Tensor flat, long rows, long columns) {
        return flat.slice(0, 0, rows * columns).reshape(rows, columns);
    }

    /** The tensors to store beside the factors, by name. */
    public Map<String, Tensor> tensors() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        layers.values().forEach(l -> {
            out.put(l.name() + GRADIENT_SUFFIX, l.gradientMoment());
            out.put(l.name() + ACTIVATION_SUFFIX, l.activationMoment());
        });
        return out;
    }

    /** Overwrites the sums with stored ones (a resumed collection). */
    void restore(Map<String, Tensor> stored) {
        stored.forEach((name, t) -> {
            for (Layer l : layers.values()) {
                if (name.equals(l.name() + GRADIENT_SUFFIX)) {
                    backend.copy(l.gradientMoment(), t);
                } else if (name.equals(l.name() + ACTIVATION_SUFFIX)) {
                    backend.copy(l.activationMoment(), t);
                }
            }
        });
    }

    /**
     * The moments stored in a factor file, or null when it holds none (collected without them); a file holding
     * them for some layers only is an error naming the layer.
     */
    public static OnePassMoments read(Backend backend, Path file, FactorStore.Description description)
            throws IOException {
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            boolean any = description.layers().stream().anyMatch(l -> st.contains(l.name() + GRADIENT_SUFFIX));
            if (!any) {
                return null;
            }
            Map<String, int[]> shapes = new LinkedHashMap<>();
            description.layers().forEach(l -> shapes.put(l.name(), new int[]{l.dOut(), l.dIn()}));
            OnePassMoments out = zeros(backend, shapes);
            try {
                Map<String, Tensor> stored = new LinkedHashMap<>();
                for (FactorStore.Layer l : description.layers()) {
                    for (String name : new String[]{l.name() + GRADIENT_SUFFIX, l.name() + ACTIVATION_SUFFIX}) {
                        if (!st.contains(name)) {
                            throw new dev.curvature.transformer.checkpoint.CheckpointFormatException(file, name,
                                    "is missing while other layers have their one-pass EK-FAC moments");
                        }
                        stored.put(name, st.tensor(name));
                    }
                }
                out.restore(stored);
                return out;
            } catch (IOException | RuntimeException e) {
                out.close();
                throw e;
            }
        }
    }

    /**
     * The one-pass estimate Λ̂_ij = r_i c_j / s (row-major d_out · d_in) of layer {@code layer} in {@code basis},
     * r_i = u_iᵀ M_G u_i / n, c_j = v_jᵀ M_A v_j / n, s = Σ_i r_i (see the class comment).
     */
    public double[] approximate(String layer, FactorEigenbasis basis, long positions) {
        Layer sums = layers.get(layer);
        if (sums == null) {
            throw new IllegalArgumentException("no one-pass moments for layer " + layer + " (have " + layers.keySet()
                    + ")");
        }
        double[] r = quadraticForms(sums.gradientMoment(), basis.gradientEigenvectors(), positions);
        double[] c = quadraticForms(sums.activationMoment(), basis.activationEigenvectors(), positions);
        double s = 0;
        for (double v : r) {
            s += v;
        }
        double[] out = new double[r.length * c.length];
        for (int i = 0; i < r.length && s > 0; i++) {
            for (int j = 0; j < c.length; j++) {
                out[i * c.length + j] = r[i] * c[j] / s;
            }
        }
        return out;
    }

    /** diag(Uᵀ M U) / n, clipped at 0 (M is PSD; rounding can leave −ε). */
    private double[] quadraticForms(Tensor m, Tensor u, long positions) {
        int d = (int) u.dim(0);
        try (Arena scratch = Arena.ofConfined()) {
            Tensor mu = backend.allocate(scratch, DType.F64, d, d);
            backend.gemm(mu, m, Transpose.NONE, u, Transpose.NONE, 1.0, 0.0);   // M U
            backend.mul(mu, mu, u);                                               // U ⊙ (M U)
            Tensor diag = backend.allocate(scratch, DType.F64, 1, d);
            Tensor onesRow = backend.allocate(scratch, DType.F64, 1, d);
            backend.fill(onesRow, 1.0);
            backend.gemm(diag, onesRow, Transpose.NONE, mu, Transpose.NONE, 1.0, 0.0);   // column sums: u_iᵀ M u_i
            double[] out = diag.toDoubleArray();
            for (int i = 0; i < d; i++) {
                out[i] = Math.max(0, out[i] / positions);
            }
            return out;
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
