package dev.curvature.transformer.train;

/**
 * Linear warmup from 0 to {@code peak} over {@code warmup} steps, then cosine decay to {@code floor} at
 * {@code total} steps (constant after). Step numbers count from 0.
 */
public record LearningRateSchedule(double peak, double floor, long warmup, long total) {
    public LearningRateSchedule {
        if (peak < 0 || floor < 0 || floor > peak || warmup < 0 || total < 1) {
            throw new IllegalArgumentException("bad schedule: peak " + peak + ", floor " + floor + ", warmup " + warmup
                    + ", total " + total);
        }
    }

    public double at(long step) {
        if (step < warmup) {
            return peak * (step + 1) / warmup;
        }
        if (step >= total) {
            return floor;
        }
        double progress = (double) (step - warmup) / Math.max(1, total - warmup);
        return floor + 0.5 * (peak - floor) * (1 + Math.cos(Math.PI * progress));
    }
}
