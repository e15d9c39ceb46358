package dev.curvature.transformer.model;

/** One batch of model inputs with their labels. */
public sealed interface Batch {
    /**
     * Token windows: {@code ids} (B·T, row-major (B, T)) and next-token {@code targets} (B·T, −1 where a position is
     * not scored).
     */
    record Tokens(int[] ids, int[] targets) implements Batch {
        public Tokens {
            if (ids.length != targets.length) {
                throw new IllegalArgumentException(ids.length + " ids but " + targets.length + " targets");
            }
        }
    }
}
