package dev.curvature.cli;

import java.io.PrintStream;

/** A one-line progress bar with rate and ETA on stderr, redrawn at most every 200 ms (stdout stays for the JSON report). */
final class ProgressLine {
    private final String label;
    private final String unit;
    private final String rateUnit;
    private final PrintStream out;
    private final long start = System.nanoTime();
    private long lastDraw;

    /** A bar counting {@code unit} whose rate is in tokens per second. */
    ProgressLine(String label, String unit) {
        this(label, unit, "tok");
    }

    /** A bar counting {@code unit} whose rate counts {@code rateUnit} (e.g. "images") per second. */
    ProgressLine(String label, String unit, String rateUnit) {
        this.label = label;
        this.unit = unit;
        this.rateUnit = rateUnit;
        this.out = System.err;
    }

    /** Redraws the bar: {@code done} of {@code total}; the rate is {@code tokens} (in the rate's unit) per second. */
    void update(long done, long total, long tokens) {
        long now = System.nanoTime();
        if (done < total && now - lastDraw < 200_000_000L) {
            return;
        }
        lastDraw = now;
        double seconds = (now - start) / 1e9;
        double fraction = total == 0 ? 1 : (double) done / total;
        int width = 30;
        int filled = (int) Math.round(fraction * width);
        long eta = fraction > 0 ? Math.round(seconds / fraction - seconds) : 0;
        String rate = tokens > 0 ? String.format(", %.0f %s/s", tokens / Math.max(seconds, 1e-9), rateUnit) : "";
        out.printf("\r%s [%s%s] %3.0f%% %d/%d %s%s, ETA %02d:%02d ", label, "#".repeat(filled),
                " ".repeat(width - filled), fraction * 100, done, total, unit, rate, eta / 60, eta % 60);
        if (done >= total) {
            out.println();
        }
        out.flush();
    }
}
