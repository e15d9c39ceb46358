package dev.curvature.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The process's peak resident set size, as Linux reports it. */
final class PeakMemory {
    private PeakMemory() {
    }

    /** VmHWM of /proc/self/status in bytes (the peak RSS: Java heap, native memory and touched mappings), or -1. */
    static long residentHighWaterMark() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    String[] parts = line.substring(6).trim().split("\\s+");
                    return Long.parseLong(parts[0]) * 1024;      // kB
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
