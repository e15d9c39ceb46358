package dev.curvature.kfac.score;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** AUROC against pair counts done by hand: the share of (positive, negative) pairs ordered right, ties ½. */
class AurocTest {
    @Test
    void handCountedExampleWithTies() {
        // positives 0.4 and 0.8; negatives 0.1, 0.35, 0.4. Pairs: 0.4 beats 0.1 and 0.35 and ties 0.4 (2.5),
        // 0.8 beats all three (3): 5.5 / 6
        double[] scores = {0.1, 0.4, 0.35, 0.8, 0.4};
        boolean[] positive = {false, true, false, true, false};
        assertEquals(5.5 / 6, Auroc.of(scores, positive), 1e-15);
    }

    @Test
    void perfectReversedAndAllTiedRankings() {
        boolean[] positive = {true, true, false, false, false};
        assertEquals(1.0, Auroc.of(new double[]{5, 4, 3, 2, 1}, positive), 0);
        assertEquals(0.0, Auroc.of(new double[]{1, 2, 3, 4, 5}, positive), 0);
        assertEquals(0.5, Auroc.of(new double[]{7, 7, 7, 7, 7}, positive), 0);
        // one positive tied with one of three negatives and above the other two: (2 + 0.5) / 3
        assertEquals(2.5 / 3, Auroc.of(new double[]{2, 2, 1, 0}, new boolean[]{true, false, false, false}), 1e-15);
    }

    @Test
    void refusesOneClassAndNaN() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> Auroc.of(new double[]{1, 2}, new boolean[]{false, false}));
        assertTrue(e.getMessage().contains("0 and 2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Auroc.of(new double[]{1, Double.NaN}, new boolean[]{true, false}));
        assertTrue(e.getMessage().contains("score 1"), e.getMessage());
    }
}
