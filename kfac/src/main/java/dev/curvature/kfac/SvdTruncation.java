package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.SymmetricEigen;
import dev.curvature.engine.Tensor;
import dev.curvature.engine.Transpose;

import java.lang.foreign.Arena;

/**
 * The SVD baseline of the curvature edit: W' = the best rank-r approximation of W (d_out, d_in), Σ_{k&lt;r} σ_k u_k v_kᵀ,
 * which keeps W's own largest directions instead of the loss's. Computed from the smaller Gram matrix in float64:
 * for d_in ≤ d_out, V = eigenvectors of WᵀW (σ_k² = its eigenvalues, descending) and W' = (W V_r) V_rᵀ; otherwise
 * U from W Wᵀ and W' = U_r (U_rᵀ W). Both are the orthogonal projection of W onto its top-r singular subspace, so
 * they equal U_r Σ_r V_rᵀ exactly up to rounding (the Gram squares W's condition number, which only blurs the
 * directions of singular values near σ_max·√ε — far below any r a truncation keeps).
 */
public final class SvdTruncation {
    private SvdTruncation() {
    }

    /**
     * What a truncation did.
     *
     * @param layer          HF layer name
     * @param rank           r, singular directions kept
     * @param fullRank       min(d_out, d_in)
     * @param energyKept     Σ_{k&lt;r} σ_k² / Σ σ_k² = ‖W'‖_F² / ‖W‖_F²
     * @param relativeChange ‖W − W'‖_F / ‖W‖_F
     */
    public record Report(String layer, int rank, int fullRank, double energyKept, double relativeChange) {
    }

    /** Writes {@code edited} (d_out, d_in) = rank-{@code rank} truncation of {@code weight}; edited may be weight. */
    public static Report apply(Backend backend, String layer, Tensor edited, Tensor weight, int rank) {
        int dOut = (int) weight.dim(0);
        int dIn = (int) weight.dim(1);
        int full = Math.min(dOut, dIn);
        if (rank < 0 || rank > full || !edited.sameShape(weight)) {
            throw new IllegalArgumentException("SVD truncation of " + layer + " " + weight.describe() + ": rank " + rank
                    + " must be in [0, " + full + "] and the output " + edited.describe() + " of the same shape");
        }
        boolean right = dIn <= dOut;   // decompose the smaller Gram: WᵀW (d_in²) or W Wᵀ (d_out²)
        try (Arena arena = Arena.ofShared()) {
            Tensor w = backend.allocate(arena, DType.F64, dOut, dIn);
            backend.copy(w, weight);
            Tensor gram = backend.allocate(arena, DType.F64, full, full).named(layer + ".gram");
            if (right) {
                backend.gemm(gram, w, Transpose.TRANSPOSED, w, Transpose.NONE, 1.0, 0.0);   // WᵀW (d_in, d_in)
            } else {
                backend.gemm(gram, w, Transpose.NONE, w, Transpose.TRANSPOSED, 1.0, 0.0);   // W Wᵀ (d_out, d_out)
            }
            SymmetricEigen eigen = backend.eigh(arena, gram, true);
            double[] sigmaSquared = eigen.values().toDoubleArray();
            double total = 0;
            double kept = 0;
            for (int k = 0; k < full; k++) {
                total += sigmaSquared[k];
                kept += k < rank ? sigmaSquared[k] : 0;
            }
            Tensor basis = eigen.vectors().slice(1, 0, rank);                 // V_r (d_in, r) or U_r (d_out, r)
            Tensor rebuilt = backend.allocate(arena, DType.F64, dOut, dIn);
            if (rank == 0) {
                backend.fill(rebuilt, 0.0);
            } else if (right) {
                Tensor projected = backend.allocate(arena, DType.F64, dOut, rank);
                backend.gemm(projected, w, Transpose.NONE, basis, Transpose.NONE, 1.0, 0.0);        // W V_r
                backend.gemm(rebuilt, projected, Transpose.NONE, basis, Transpose.TRANSPOSED, 1.0, 0.0); // · V_rᵀ
            } else {
                Tensor projected = backend.allocate(arena, DType.F64, rank, dIn);
                backend.gemm(projected, basis, Transpose.TRANSPOSED, w, Transpose.NONE, 1.0, 0.0);  // U_rᵀ W
                backend.gemm(rebuilt, basis, Transpose.NONE, projected, Transpose.NONE, 1.0, 0.0);  // U_r ·
            }
            double norm = Math.sqrt(backend.dot(w, w));
            backend.axpy(w, rebuilt, -1.0);
            double change = Math.sqrt(backend.dot(w, w));
            backend.copy(edited, rebuilt);
            return new Report(layer, rank, full, total == 0 ? 1 : kept / total, norm == 0 ? change : change / norm);
        }
    }
}
