package dev.curvature.cli;

/** Option values checked by the CLI before any work, with one line naming the option and the allowed range. */
final class OptionRanges {
    private OptionRanges() {
    }

    static void require(String option, long value, long min, long max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(option + " " + value + " is out of range: allowed "
                    + (max == Long.MAX_VALUE ? "≥ " + min : min + " to " + max));
        }
    }
}
