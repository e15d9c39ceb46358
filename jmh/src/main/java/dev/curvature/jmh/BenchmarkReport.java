package dev.curvature.jmh;

/** Placeholder until the covariance benchmark lands (same commit series). */
public final class BenchmarkReport {
    private BenchmarkReport() {
    }

    public static void main(String[] args) {
        System.out.println("benchmarks");
    }
}
