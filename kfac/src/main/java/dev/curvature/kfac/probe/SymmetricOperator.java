package dev.curvature.kfac.probe;

import java.lang.foreign.Arena;

/** A symmetric linear map A on the space of a {@link ParameterSelection} (N × N, applied to vectors, never formed). */
public interface SymmetricOperator {
    /** N. */
    long dimension();

    /** A zero vector of the operator's space, owned by {@code arena}. */
    ParameterVector newVector(Arena arena);

    /** Writes out = A v ({@code out} is not {@code v}). */
    void apply(ParameterVector v, ParameterVector out);

    /** Products A·v formed so far. */
    long products();

    /** −A: its top algebraic eigenpairs are A's bottom ones, negated. */
    default SymmetricOperator negated() {
        SymmetricOperator a = this;
        return new SymmetricOperator() {
            @Override
            public long dimension() {
                return a.dimension();
            }

            @Override
            public ParameterVector newVector(Arena arena) {
                return a.newVector(arena);
            }

            @Override
            public void apply(ParameterVector v, ParameterVector out) {
                a.apply(v, out);
                out.scale(-1);
            }

            @Override
            public long products() {
                return a.products();
            }
        };
    }
}
