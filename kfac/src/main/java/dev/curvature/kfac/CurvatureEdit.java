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
        requireShapes(edited, weight, basis, mask.rows(), mask.columns());
        int dIn = (int) weight.dim(1);
        double change = rebuild(backend, edited, weight, basis,
                coefficients -> mask.zeroOutside(backend, coefficients));
        return new LayerReport(basis.layer(), mask.pairCount(), (long) mask.rows() * dIn,
                keptMass(mask, basis.gradientEigenvalues(), basis.activationEigenvalues()),
                mask.gEigenvectorsUsed(), mask.aEigenvectorsUsed(), change);
    }

    /**
     * {@link #apply(Backend, Tensor, Tensor, FactorEigenbasis, ComponentMask)} for a set of components of any shape
     * (e.g. the random-removal control): C is multiplied by the 0/1 indicator of {@code kept}.
     */
    public static LayerReport apply(Backend backend, Tensor edited, Tensor weight, FactorEigenbasis basis,
                                    ScatteredComponents kept) {
        requireShapes(edited, weight, basis, kept.rows(), kept.columns());
        double change = rebuild(backend, edited, weight, basis, coefficients -> {
            try (Arena arena = Arena.ofConfined()) {
                double[] values = new double[kept.rows() * kept.columns()];
                for (long at = kept.first(); at >= 0; at = kept.next(at)) {
                    values[(int) at] = 1.0;
                }
                Tensor host = Tensor.of(arena, DType.F64, values, kept.rows(), kept.columns());
                Tensor indicator = backend.allocate(arena, DType.F64, kept.rows(), kept.columns());
                backend.copy(indicator, host);   // host → the backend's memory (a no-op move on the CPU)
                backend.mul(coefficients, coefficients, indicator);
            }
        });
        double[] lambda = basis.gradientEigenvalues();
        double[] mu = basis.activationEigenvalues();
        double mass = 0;
        for (long at = kept.first(); at >= 0; at = kept.next(at)) {
            mass += lambda[(int) (at / kept.columns())] * mu[(int) (at % kept.columns())];
        }
        double total = DescendingSpectrum.sum(lambda) * DescendingSpectrum.sum(mu);
        return new LayerReport(basis.layer(), kept.count(), (long) kept.rows() * kept.columns(),
                total == 0 ? 0 : mass / total, kept.rowsUsed(), kept.columnsUsed(), change);
    }

    private static void requireShapes(Tensor edited, Tensor weight, FactorEigenbasis basis, int maskRows,
                                      int maskColumns) {
        int dOut = (int) weight.dim(0);
        int dIn = (int) weight.dim(1);
        Tensor uG = basis.gradientEigenvectors();
        Tensor uA = basis.activationEigenvectors();
        if (uG.dim(0) != dOut || uA.dim(0) != dIn || maskRows != dOut || maskColumns != dIn
                || !edited.sameShape(weight)) {
            throw new IllegalArgumentException("edit of " + basis.layer() + ": weight " + weight.describe()
                    + " needs U_G (" + dOut + ", " + dOut + ") and U_A (" + dIn + ", " + dIn + ") and a " + dOut + "×"
                    + dIn + " mask; got U_G " + uG.describe() + ", U_A " + uA.describe() + ", mask " + maskRows
                    + "×" + maskColumns);
        }
    }

    /**
     * edited = U_G (C ⊙ M) U_Aᵀ with C = U_Gᵀ W U_A, all in float64; {@code mask} zeroes the coefficients (d_out,
     * d_in) of the components left out, in place. Returns ‖W − W'‖_F / ‖W‖_F.
     */
    private static double rebuild(Backend backend, Tensor edited, Tensor weight, FactorEigenbasis basis,
                                  java.util.function.Consumer<Tensor> mask) {
        int dOut = (int) weight.dim(0);
        int dIn = (int) weight.dim(1);
        Tensor uG = basis.gradientEigenvectors();
        Tensor uA = basis.activationEigenvectors();
        try (Arena arena = Arena.ofShared()) {
            Tensor w = backend.allocate(arena, DType.F64, dOut, dIn);
            backend.copy(w, weight);
            Tensor product = backend.allocate(arena, DType.F64, dOut, dIn);
            Tensor coefficients = backend.allocate(arena, DType.F64, dOut, dIn);
            backend.gemm(product, w, Transpose.NONE, uA, Transpose.NONE, 1.0, 0.0);             // W U_A
            backend.gemm(coefficients, uG, Transpose.TRANSPOSED, product, Transpose.NONE, 1.0, 0.0); // C = U_Gᵀ W U_A
            mask.accept(coefficients);                                                               // C ⊙ M
            backend.gemm(product, coefficients, Transpose.NONE, uA, Transpose.TRANSPOSED, 1.0, 0.0); // (C⊙M) U_Aᵀ
            Tensor rebuilt = coefficients;   // reuse: C is no longer needed
            backend.gemm(rebuilt, uG, Transpose.NONE, product, Transpose.NONE, 1.0, 0.0);           // U_G (C⊙M) U_Aᵀ
            double norm = Math.sqrt(backend.dot(w, w));
            backend.axpy(w, rebuilt, -1.0);                                                          // W − W'
            double change = Math.sqrt(backend.dot(w, w));
            backend.copy(edited, rebuilt);
            return norm == 0 ? change : change / norm;
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
