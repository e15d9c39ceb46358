package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.engine.Transpose;

import java.lang.foreign.Arena;

/**
 * The K-FAC curvature edit of one linear weight W (d_out, d_in): express W in the product eigenbasis,
 * C = U_Gᵀ W U_A (C_ij = u_iᵀ W v_j, the coefficient of component u_i v_jᵀ, whose curvature is λ_i μ_j), keep the
 * components of a {@link ComponentMask}, and rebuild W' = U_G (C ⊙ M) U_Aᵀ. All in float64, whatever W's dtype;
 * the result is rounded once, to the output's dtype.
 */
public final class CurvatureEdit {
    private CurvatureEdit() {
    }

    /**
     * What an edit did to one layer.
     *
     * @param layer              HF layer name
     * @param pairsKept          components kept
     * @param pairsTotal         d_out · d_in
     * @param massKept           Σ_kept λ_i μ_j / Σλ Σμ
     * @param gEigenvectorsUsed  distinct G-eigenvectors (rows) with a kept component
     * @param aEigenvectorsUsed  distinct A-eigenvectors (columns) with a kept component
     * @param relativeChange     ‖W − W'‖_F / ‖W‖_F
     */
    public record LayerReport(String layer, long pairsKept, long pairsTotal, double massKept, int gEigenvectorsUsed,
                              int aEigenvectorsUsed, double relativeChange) {
        public double keptFraction() {
            return (double) pairsKept / pairsTotal;
        }
    }

    /** Writes {@code edited} (d_out, d_in) = U_G (C ⊙ M) U_Aᵀ for W = {@code weight}; edited may be weight. */
    public static LayerReport apply(Backend backend, Tensor edited, Tensor weight, FactorEigenbasis basis,
                                    ComponentMask mask) {
        int dOut = (int) weight.dim(0);
        int dIn = (int) weight.dim(1);
        Tensor uG = basis.gradientEigenvectors();
        Tensor uA = basis.activationEigenvectors();
        if (uG.dim(0) != dOut || uA.dim(0) != dIn || mask.rows() != dOut || mask.columns() != dIn
                || !edited.sameShape(weight)) {
            throw new IllegalArgumentException("edit of " + basis.layer() + ": weight " + weight.describe()
                    + " needs U_G (" + dOut + ", " + dOut + ") and U_A (" + dIn + ", " + dIn + ") and a " + dOut + "×"
                    + dIn + " mask; got U_G " + uG.describe() + ", U_A " + uA.describe() + ", mask " + mask.rows()
                    + "×" + mask.columns());
        }
        try (Arena arena = Arena.ofShared()) {
            Tensor w = backend.allocate(arena, DType.F64, dOut, dIn);
            backend.copy(w, weight);
            Tensor product = backend.allocate(arena, DType.F64, dOut, dIn);
            Tensor coefficients = backend.allocate(arena, DType.F64, dOut, dIn);
            backend.gemm(product, w, Transpose.NONE, uA, Transpose.NONE, 1.0, 0.0);             // W U_A
            backend.gemm(coefficients, uG, Transpose.TRANSPOSED, product, Transpose.NONE, 1.0, 0.0); // C = U_Gᵀ W U_A
            for (int i = 0; i < dOut; i++) {
                Tensor row = coefficients.select(0, i);
                int start = mask.rowStart(i);
                int end = mask.rowEnd(i);
                if (start > 0) {
                    backend.fill(row.slice(0, 0, start), 0.0);
                }
                if (end < dIn) {
                    backend.fill(row.slice(0, end, dIn), 0.0);
                }
            }
            backend.gemm(product, coefficients, Transpose.NONE, uA, Transpose.TRANSPOSED, 1.0, 0.0); // (C⊙M) U_Aᵀ
            Tensor rebuilt = coefficients;   // reuse: C is no longer needed
            backend.gemm(rebuilt, uG, Transpose.NONE, product, Transpose.NONE, 1.0, 0.0);           // U_G (C⊙M) U_Aᵀ
            double norm = Math.sqrt(backend.dot(w, w));
            backend.axpy(w, rebuilt, -1.0);                                                          // W − W'
            double change = Math.sqrt(backend.dot(w, w));
            backend.copy(edited, rebuilt);
            double[] lambda = basis.gradientEigenvalues();
            double[] mu = basis.activationEigenvalues();
            return new LayerReport(basis.layer(), mask.pairCount(), (long) dOut * dIn, keptMass(mask, lambda, mu),
                    mask.gEigenvectorsUsed(), mask.aEigenvectorsUsed(), norm == 0 ? change : change / norm);
        }
    }

    /** Σ_kept λ_i μ_j / (Σλ Σμ), from prefix sums of μ (each row keeps one run of columns). */
    static double keptMass(ComponentMask mask, double[] lambda, double[] mu) {
        double[] prefix = new double[mu.length + 1];
        for (int j = 0; j < mu.length; j++) {
            prefix[j + 1] = prefix[j] + mu[j];
        }
        double kept = 0;
        double lambdaTotal = 0;
        for (int i = 0; i < lambda.length; i++) {
            kept += lambda[i] * (prefix[mask.rowEnd(i)] - prefix[mask.rowStart(i)]);
            lambdaTotal += lambda[i];
        }
        double total = lambdaTotal * prefix[mu.length];
        return total == 0 ? 0 : kept / total;
    }
}
