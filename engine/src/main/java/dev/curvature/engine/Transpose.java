package dev.curvature.engine;

/** Whether a GEMM operand is used as stored or transposed: op(A) = A or Aᵀ. */
public enum Transpose {
    NONE,
    TRANSPOSED;

    /** The opposite operation. */
    public Transpose flip() {
        return this == NONE ? TRANSPOSED : NONE;
    }
}
