package dev.curvature.transformer.train;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Warmup and cosine decay against their closed forms at hand-picked steps. */
class LearningRateScheduleTest {

    @Test
    void warmupIsLinearCosineHitsItsMidpointAndTheFloorHolds() {
        // peak 1, floor 0.1, warmup 4, total 104: warmup peak·(s+1)/4; then 0.1 + 0.45·(1 + cos(π·(s − 4)/100))
        LearningRateSchedule s = new LearningRateSchedule(1.0, 0.1, 4, 104);
        assertEquals(0.25, s.at(0), 1e-15);
        assertEquals(1.0, s.at(3), 1e-15);
        assertEquals(1.0, s.at(4), 1e-15);                 // cos 0 = 1: the peak
        assertEquals(0.55, s.at(54), 1e-15);               // halfway: cos(π/2) = 0, floor + (peak − floor)/2
        assertEquals(0.1 + 0.45 * (1 + Math.cos(Math.PI * 0.25)), s.at(29), 1e-15);
        assertEquals(0.1, s.at(104), 0.0);
        assertEquals(0.1, s.at(10_000), 0.0);
        // no warmup: the first step is already at the peak
        assertEquals(2.0, new LearningRateSchedule(2.0, 0.0, 0, 10).at(0), 1e-15);
        assertThrows(IllegalArgumentException.class, () -> new LearningRateSchedule(0.1, 0.2, 0, 10));
    }
}
