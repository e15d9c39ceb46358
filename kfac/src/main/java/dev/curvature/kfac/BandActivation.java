package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.engine.Transpose;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * How strongly a layer's inputs excite each curvature band of its weight (paper §4, ALGORITHMS.md §1.6). For one
 * linear layer with eigenbasis (U_G, λ; U_A, μ), weight W (p = d_out, q = d_in), coefficients C = U_Gᵀ W U_A
 * (p, q), and a band's mask M ({@link CurvatureBand}), two statistics of an input row x (q), since the paper does not
 * say which it aggregates:
 * <ul>
 *   <li>(a) output norm: act = ‖W_band x‖ with W_band = U_G (C ⊙ M) U_Aᵀ = Σ_{(i,j)∈band} C_ij u_i v_jᵀ, the band's
 *       part of the layer applied to x (bias excluded). Computed as ‖(C ⊙ M) z‖ with z = U_Aᵀ x, because U_G is
 *       orthonormal (an eigh basis) and ‖U_G y‖ = ‖y‖: one (n, q)·(q, p) GEMM per band, no W_band.</li>
 *   <li>(b) projection RMS: act = sqrt(Σ_{(i,j)∈band} (v_jᵀx)² / |band|), the RMS over the band's pairs of the
 *       activation |v_jᵀx| of component u_i v_jᵀ (‖u_i v_jᵀ x‖ = |v_jᵀx|); = sqrt(Σ_j c_j z_j² / |band|) with c_j the
 *       band's pairs in column j. NaN for an empty band.</li>
 * </ul>
 * Both are averaged over positions (rows): {@link #accumulate} adds rows to a {@link Tally}, {@link Tally#means}
 * reads the means, {@link #ratios} divides a data set's means by clean text's.
 *
 * <p>Everything after the input is float64: x is converted on entry, z, C and the products are float64, sums are
 * float64. Memory: U_A (q, q), C (p, q), the masked coefficients and (chunk, p + 2q) rows. The masked C ⊙ M_b of
 * every band are kept when they fit in {@link #DEFAULT_MASKED_BYTES} (a 4096×1024 layer with 4 bands: 128 MiB);
 * otherwise one (p, q) scratch is refilled band by band for each chunk of rows (4 bands of an 11008×4096 layer
 * would be 1.4 GB), which costs a copy and 2p fills per band and chunk.
 */
public final class BandActivation implements AutoCloseable {
    /** Rows per GEMM: bounds the row scratch whatever the caller passes. */
    private static final int CHUNK_ROWS = 512;
    /** Above this, masked coefficients are rebuilt per chunk instead of kept per band. */
    static final long DEFAULT_MASKED_BYTES = 256L << 20;

    private final Backend backend;
    private final String layer;
    private final int p;
    private final int q;
    private final List<CurvatureBand> bands;
    private final List<ComponentMask> masks;
    private final Arena arena;
    private final Tensor uA;              // (q, q) U_A, column j = v_j
    private final Tensor coefficients;    // (p, q) C = U_Gᵀ W U_A
    /** Per band (p, q) C ⊙ M_b when kept; otherwise null, and {@link #scratch} is refilled per band and chunk. */
    private final Tensor[] masked;
    private final Tensor scratch;         // (p, q) or null
    private final Tensor columnWeights;   // (q, bands) c_j / |band| (0 for an empty band)
    private final Tensor rows;            // (CHUNK, q) x in float64
    private final Tensor projections;     // (CHUNK, q) z = U_Aᵀ x per row, then z ⊙ z
    private final Tensor outputs;         // (CHUNK, p) (C ⊙ M_b) z per row, then squared
    private final Tensor outputSquares;   // (CHUNK) Σ_i ((C ⊙ M_b) z)_i²
    private final Tensor weighted;        // (CHUNK, bands) Σ_j c_j z_j² / |band|

    /**
     * Prepares the bands of one layer: their masks from the basis's spectra, C from W. The basis is not kept (it may
     * be closed afterwards).
     *
     * @param weight W (d_out, d_in), any float dtype, as the model holds it (y = x Wᵀ + b)
     * @throws IllegalArgumentException naming the layer when the shapes of W and the basis disagree
     */
    public BandActivation(Backend backend, FactorEigenbasis basis, Tensor weight, List<CurvatureBand> bands) {
        this(backend, basis, weight, bands, DEFAULT_MASKED_BYTES);
    }

    /** As above, keeping the masked coefficients of all bands only if they fit in {@code maskedBytes}. */
    BandActivation(Backend backend, FactorEigenbasis basis, Tensor weight, List<CurvatureBand> bands,
                   long maskedBytes) {
        this.backend = Objects.requireNonNull(backend, "backend");
        this.layer = basis.layer();
        this.bands = List.copyOf(bands);
        if (this.bands.isEmpty()) {
            throw new IllegalArgumentException("band activation of " + layer + ": no bands given");
        }
        Tensor uG = basis.gradientEigenvectors();
        Tensor basisA = basis.activationEigenvectors();
        if (weight.rank() != 2 || uG.dim(0) != weight.dim(0) || basisA.dim(0) != weight.dim(1)) {
            throw new IllegalArgumentException("band activation of " + layer + ": weight " + weight.describe()
                    + " needs U_G (d_out, d_out) and U_A (d_in, d_in); got U_G " + uG.describe() + ", U_A "
                    + basisA.describe());
        }
        this.p = (int) weight.dim(0);
        this.q = (int) weight.dim(1);
        try {
            this.masks = CurvatureBand.masks(basis.gradientEigenvalues(), basis.activationEigenvalues(), this.bands);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("band activation of " + layer + ": " + e.getMessage(), e);
        }
        int nb = this.bands.size();
        this.arena = Arena.ofShared();
        try {
            uA = backend.allocate(arena, DType.F64, q, q);
            coefficients = backend.allocate(arena, DType.F64, p, q);
            boolean keep = (long) nb * p * q * Double.BYTES <= maskedBytes;
            masked = new Tensor[nb];
            scratch = keep ? null : backend.allocate(arena, DType.F64, p, q);
            columnWeights = backend.allocate(arena, DType.F64, q, nb);
            rows = backend.allocate(arena, DType.F64, CHUNK_ROWS, q);
            projections = backend.allocate(arena, DType.F64, CHUNK_ROWS, q);
            outputs = backend.allocate(arena, DType.F64, CHUNK_ROWS, p);
            outputSquares = backend.allocate(arena, DType.F64, CHUNK_ROWS);
            weighted = backend.allocate(arena, DType.F64, CHUNK_ROWS, nb);

            backend.copy(uA, basisA);
            try (Arena scratch = Arena.ofShared()) {
                Tensor w = backend.allocate(scratch, DType.F64, p, q);
                Tensor wuA = backend.allocate(scratch, DType.F64, p, q);
                backend.copy(w, weight);
                backend.gemm(wuA, w, Transpose.NONE, uA, Transpose.NONE, 1.0, 0.0);                     // W U_A
                backend.gemm(coefficients, uG, Transpose.TRANSPOSED, wuA, Transpose.NONE, 1.0, 0.0);      // U_Gᵀ W U_A
            }

            if (keep) {
                for (int b = 0; b < nb; b++) {
                    masked[b] = backend.allocate(arena, DType.F64, p, q);
                    maskCoefficients(masked[b], masks.get(b));
                }
            }

            double[] weights = new double[q * nb];
            for (int b = 0; b < nb; b++) {
                ComponentMask mask = masks.get(b);
                if (mask.pairCount() == 0) {
                    continue;
                }
                int[] counts = mask.columnCounts();
                for (int j = 0; j < q; j++) {
                    weights[j * nb + b] = (double) counts[j] / mask.pairCount();
                }
            }
            backend.copy(columnWeights, Tensor.of(arena, DType.F64, weights, q, nb));
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public String layer() {
        return layer;
    }

    /** d_in: the width of the input rows. */
    public int inputWidth() {
        return q;
    }

    /** An empty tally for this layer's bands (one per data set). */
    public Tally newTally() {
        return new Tally(layer, bands, masks);
    }

    /**
     * Adds the rows of x (n, d_in), any float dtype, to {@code tally}: for each row and band both statistics, summed
     * (with their squares) in float64.
     */
    public void accumulate(Tally tally, Tensor x) {
        if (x.rank() != 2 || x.dim(1) != q) {
            throw new IllegalArgumentException("band activation of " + layer + ": input " + x.describe()
                    + " must be (n, " + q + ")");
        }
        if (tally.bands != bands || !tally.layer.equals(layer)) {
            throw new IllegalArgumentException("tally of " + tally.layer + " used with the bands of " + layer);
        }
        int nb = bands.size();
        for (long from = 0; from < x.dim(0); from += CHUNK_ROWS) {
            int n = (int) Math.min(CHUNK_ROWS, x.dim(0) - from);
            Tensor xs = rows.slice(0, 0, n);
            Tensor z = projections.slice(0, 0, n);
            Tensor y = outputs.slice(0, 0, n);
            Tensor squares = outputSquares.slice(0, 0, n);
            backend.copy(xs, x.slice(0, from, from + n));
            backend.gemm(z, xs, Transpose.NONE, uA, Transpose.NONE, 1.0, 0.0);                    // z = x U_A
            for (int b = 0; b < nb; b++) {
                Tensor band = masked[b];
                if (band == null) {
                    band = scratch;
                    maskCoefficients(band, masks.get(b));
                }
                backend.gemm(y, z, Transpose.NONE, band, Transpose.TRANSPOSED, 1.0, 0.0);          // (C ⊙ M) z
                backend.mul(y, y, y);
                backend.rowSum(squares, y);
                double[] s = squares.toDoubleArray();
                for (int r = 0; r < n; r++) {
                    tally.add(0, b, Math.sqrt(s[r]));
                }
            }
            backend.mul(z, z, z);                                                                     // z_j²
            Tensor wz = weighted.slice(0, 0, n);
            backend.gemm(wz, z, Transpose.NONE, columnWeights, Transpose.NONE, 1.0, 0.0);            // Σ_j c_j z_j²/|band|
            double[] s = wz.toDoubleArray();
            for (int r = 0; r < n; r++) {
                for (int b = 0; b < nb; b++) {
                    tally.add(1, b, masks.get(b).pairCount() == 0 ? Double.NaN : Math.sqrt(s[r * nb + b]));
                }
            }
            tally.positions += n;
        }
    }

    /** out (p, q) = C with every pair outside the band's row runs set to 0. */
    private void maskCoefficients(Tensor out, ComponentMask mask) {
        backend.copy(out, coefficients);
        mask.zeroOutside(backend, out);
    }

    @Override
    public void close() {
        arena.close();
    }

    /** Running sums of both statistics over the positions of one data set, for one layer's bands. */
    public static final class Tally {
        private final String layer;
        private final List<CurvatureBand> bands;
        private final List<ComponentMask> masks;
        /** [definition][band]: Σ act and Σ act² over positions; definition 0 = (a) output norm, 1 = (b) RMS. */
        private final double[][] sums;
        private final double[][] squares;
        private long positions;

        private Tally(String layer, List<CurvatureBand> bands, List<ComponentMask> masks) {
            this.layer = layer;
            this.bands = bands;
            this.masks = masks;
            this.sums = new double[2][bands.size()];
            this.squares = new double[2][bands.size()];
        }

        private void add(int definition, int band, double value) {
            sums[definition][band] += value;
            squares[definition][band] += value * value;
        }

        /** Means and standard deviations (population, over positions) of both statistics per band. */
        public LayerMeans means() {
            List<BandMeans> out = new ArrayList<>();
            for (int b = 0; b < bands.size(); b++) {
                out.add(new BandMeans(bands.get(b).label(), bands.get(b), masks.get(b).pairCount(),
                        mean(0, b), deviation(0, b), mean(1, b), deviation(1, b)));
            }
            return new LayerMeans(layer, positions, List.copyOf(out));
        }

        private double mean(int definition, int band) {
            return positions == 0 ? Double.NaN : sums[definition][band] / positions;
        }

        private double deviation(int definition, int band) {
            double m = mean(definition, band);
            return Math.sqrt(Math.max(0, squares[definition][band] / positions - m * m));
        }
    }

    /** One layer's band statistics over one data set. */
    public record LayerMeans(String layer, long positions, List<BandMeans> bands) {
    }

    /**
     * One band's statistics over one data set.
     *
     * @param label           "top 10%", …
     * @param band            the band's edges
     * @param pairs           components in the band
     * @param outputNorm      (a) mean over positions of ‖W_band x‖
     * @param outputNormSd    its standard deviation over positions
     * @param projectionRms   (b) mean over positions of sqrt(Σ_band (v_jᵀx)² / |band|)
     * @param projectionRmsSd its standard deviation over positions
     */
    public record BandMeans(String label, CurvatureBand band, long pairs, double outputNorm, double outputNormSd,
                            double projectionRms, double projectionRmsSd) {
    }

    /**
     * ratio_band = E_data[act_band] / E_clean[act_band] for both statistics (ALGORITHMS.md §1.6): above 1, the data
     * set excites the band more than clean text does.
     */
    public record BandRatio(String layer, String label, CurvatureBand band, long pairs, double dataOutputNorm,
                            double cleanOutputNorm, double outputNormRatio, double dataProjectionRms,
                            double cleanProjectionRms, double projectionRmsRatio) {
    }

    /** Per band, the data set's means over clean text's; both must be the same layer's, with the same bands. */
    public static List<BandRatio> ratios(LayerMeans data, LayerMeans clean) {
        if (!data.layer().equals(clean.layer()) || data.bands().size() != clean.bands().size()) {
            throw new IllegalArgumentException("cannot compare " + data.layer() + " (" + data.bands().size()
                    + " bands) with " + clean.layer() + " (" + clean.bands().size() + " bands)");
        }
        List<BandRatio> out = new ArrayList<>();
        for (int b = 0; b < data.bands().size(); b++) {
            BandMeans d = data.bands().get(b);
            BandMeans c = clean.bands().get(b);
            if (!d.band().equals(c.band()) || d.pairs() != c.pairs()) {
                throw new IllegalArgumentException("layer " + data.layer() + ": band " + b + " is " + d.label()
                        + " (" + d.pairs() + " pairs) in one set and " + c.label() + " (" + c.pairs() + ") in the other");
            }
            out.add(new BandRatio(data.layer(), d.label(), d.band(), d.pairs(), d.outputNorm(), c.outputNorm(),
                    d.outputNorm() / c.outputNorm(), d.projectionRms(), c.projectionRms(),
                    d.projectionRms() / c.projectionRms()));
        }
        return List.copyOf(out);
    }
}
