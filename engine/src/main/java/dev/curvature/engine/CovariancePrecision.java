package dev.curvature.engine;

/** How {@link CovarianceAccumulator} forms and sums XᵀX. */
public enum CovariancePrecision {
    /**
     * Each batch's XᵀX by SYRK in the activations' dtype (F32 for F32 activations) into a scratch matrix, then
     * added into the float64 running sum: float32 speed, float64 accumulation across batches.
     */
    F32_WITH_F64_SUMS,
    /** The batch is widened to float64 and accumulated by DSYRK directly into the sum: the audit mode. */
    F64_EXACT
}
