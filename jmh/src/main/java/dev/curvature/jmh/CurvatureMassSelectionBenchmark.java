package dev.curvature.jmh;

import dev.curvature.kfac.CurvatureMassSelection;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The pairwise product selection of the K-FAC edit at the size of an OLMo-2 7B MLP projection: λ of G
 * (p = 11008) and μ of A (q = 4096), ρ = 0.6. Spectra (seeded, sorted descending):
 * <ul>
 *   <li>{@code steep}: λ_i ∝ (i+1)^−1.1, μ_j ∝ (j+1)^−0.8, log-normal jitter; S ≈ 10⁵ pairs.</li>
 *   <li>{@code flat}: exponents 0.6 and 0.4; S ≈ 10⁷ pairs (the "tens of millions" regime of the paper).</li>
 *   <li>{@code ties}: eigenvalues drawn from 8 powers of two; the boundary falls inside a tie class of ~2·10⁶
 *       pairs, about half of it selected.</li>
 * </ul>
 * Goal: under 50 ms per selection.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class CurvatureMassSelectionBenchmark {
    @Param({"11008"})
    public int p;

    @Param({"4096"})
    public int q;

    @Param({"0.6"})
    public double rho;

    @Param({"steep", "flat", "ties"})
    public String spectrum;

    private double[] lambda;
    private double[] mu;

    @Setup(Level.Trial)
    public void setUp() {
        Random random = new Random(1);
        switch (spectrum) {
            case "steep" -> {
                lambda = powerLaw(random, p, 1.1);
                mu = powerLaw(random, q, 0.8);
            }
            case "flat" -> {
                lambda = powerLaw(random, p, 0.6);
                mu = powerLaw(random, q, 0.4);
            }
            case "ties" -> {
                lambda = levels(random, p);
                mu = levels(random, q);
            }
            default -> throw new IllegalArgumentException("spectrum = " + spectrum);
        }
    }

    @Benchmark
    public CurvatureMassSelection keep() {
        return CurvatureMassSelection.keep(lambda, mu, rho);
    }

    private static double[] powerLaw(Random random, int n, double exponent) {
        double[] v = new double[n];
        for (int k = 0; k < n; k++) {
            v[k] = Math.pow(k + 1, -exponent) * Math.exp(0.2 * random.nextGaussian());
        }
        return descending(v);
    }

    private static double[] levels(Random random, int n) {
        double[] v = new double[n];
        for (int k = 0; k < n; k++) {
            v[k] = Math.pow(2, -random.nextInt(8));
        }
        return descending(v);
    }

    private static double[] descending(double[] v) {
        Arrays.sort(v);
        for (int a = 0, b = v.length - 1; a < b; a++, b--) {
            double t = v[a];
            v[a] = v[b];
            v[b] = t;
        }
        return v;
    }
}
