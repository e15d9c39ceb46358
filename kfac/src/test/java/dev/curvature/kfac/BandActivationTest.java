package dev.curvature.kfac;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.LinearObserver;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.Workspace;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static dev.curvature.engine.NumericAssertions.randomValues;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Band activations. References: naive float64 loops that build W_band = Σ_{(i,j)∈band} C_ij u_i v_jᵀ pair by pair
 * (C_ij = u_iᵀ W v_j, bands from {@link NaiveProductRanking}) and take ‖W_band x‖, and the RMS of |v_jᵀx| over the
 * band's pairs written as a loop over pairs; homogeneity (scaling x by s scales both statistics by s); and, for the
 * observer, each sequence run alone through the model with its inputs copied out.
 */
class BandActivationTest {
    static final CpuBackend backend = SharedCpuBackend.get();
    private static final String[] EDGES = {"0", "0.1", "0.25", "0.5", "1"};

    @Test
    void bothStatisticsMatchNaiveLoopsOverTheBandsPairs() {
        // tolerance: relative 1e-10 for the means, 1e-8 for the standard deviations (float64 throughout; sums of
        // 600 rows of ≤ 108 terms; the deviation is a difference of two sums)
        int dOut = 12;
        int dIn = 9;
        int n = 600;   // more than one chunk of rows
        try (Arena arena = Arena.ofShared()) {
            KroneckerFactors factors = CurvatureEditTest.randomFactors(arena, dOut, dIn, 11);
            try (FactorEigenbasis basis = FactorEigenbasis.of(backend, factors)) {
                Random random = new Random(12);
                double[] wv = randomValues(random, dOut * dIn);
                double[] xv = randomValues(random, n * dIn);
                Tensor w = Tensor.of(arena, DType.F64, wv, dOut, dIn);
                Tensor x = Tensor.of(arena, DType.F64, xv, n, dIn);
                // masked coefficients kept per band, and (budget 0) rebuilt for each chunk of rows
                List<BandActivation.LayerMeans> results = new ArrayList<>();
                for (long budget : new long[]{BandActivation.DEFAULT_MASKED_BYTES, 0}) {
                    try (BandActivation bands = new BandActivation(backend, basis, w, CurvatureBand.DEFAULTS,
                            budget)) {
                        BandActivation.Tally tally = bands.newTally();
                        bands.accumulate(tally, x.slice(0, 0, 250));
                        bands.accumulate(tally, x.slice(0, 250, n));
                        results.add(tally.means());
                    }
                }

                double[] lambda = basis.gradientEigenvalues();
                double[] mu = basis.activationEigenvalues();
                double[] u = basis.gradientEigenvectors().toDoubleArray();
                double[] v = basis.activationEigenvectors().toDoubleArray();
                int[][] rank = NaiveProductRanking.ranks(lambda, mu);
                long pairs = (long) dOut * dIn;
                double[][] c = new double[dOut][dIn];   // C_ij = u_iᵀ W v_j
                for (int i = 0; i < dOut; i++) {
                    for (int j = 0; j < dIn; j++) {
                        for (int r = 0; r < dOut; r++) {
                            for (int s = 0; s < dIn; s++) {
                                c[i][j] += u[r * dOut + i] * wv[r * dIn + s] * v[s * dIn + j];
                            }
                        }
                    }
                }
                for (int b = 0; b < 4; b++) {
                    long lo = NaiveProductRanking.edge(EDGES[b], pairs);
                    long hi = NaiveProductRanking.edge(EDGES[b + 1], pairs);
                    double[] wBand = new double[dOut * dIn];   // Σ_{(i,j)∈band} C_ij u_i v_jᵀ
                    for (int i = 0; i < dOut; i++) {
                        for (int j = 0; j < dIn; j++) {
                            if (rank[i][j] < lo || rank[i][j] >= hi) {
                                continue;
                            }
                            for (int r = 0; r < dOut; r++) {
                                for (int s = 0; s < dIn; s++) {
                                    wBand[r * dIn + s] += c[i][j] * u[r * dOut + i] * v[s * dIn + j];
                                }
                            }
                        }
                    }
                    double sumNorm = 0;
                    double sumNormSq = 0;
                    double sumRms = 0;
                    for (int row = 0; row < n; row++) {
                        double norm = 0;
                        for (int r = 0; r < dOut; r++) {
                            double y = 0;
                            for (int s = 0; s < dIn; s++) {
                                y += wBand[r * dIn + s] * xv[row * dIn + s];
                            }
                            norm += y * y;
                        }
                        norm = Math.sqrt(norm);
                        sumNorm += norm;
                        sumNormSq += norm * norm;
                        double squares = 0;
                        for (int i = 0; i < dOut; i++) {
                            for (int j = 0; j < dIn; j++) {
                                if (rank[i][j] >= lo && rank[i][j] < hi) {
                                    double proj = 0;   // v_jᵀ x
                                    for (int s = 0; s < dIn; s++) {
                                        proj += v[s * dIn + j] * xv[row * dIn + s];
                                    }
                                    squares += proj * proj;
                                }
                            }
                        }
                        sumRms += Math.sqrt(squares / (hi - lo));
                    }
                    double meanNorm = sumNorm / n;
                    double sdNorm = Math.sqrt(sumNormSq / n - meanNorm * meanNorm);
                    for (BandActivation.LayerMeans means : results) {
                        BandActivation.BandMeans got = means.bands().get(b);
                        assertEquals(n, means.positions());
                        assertEquals(hi - lo, got.pairs());
                        assertRelative(meanNorm, got.outputNorm(), 1e-10, "band " + b + " (a) mean");
                        assertRelative(sdNorm, got.outputNormSd(), 1e-8, "band " + b + " (a) sd");
                        assertRelative(sumRms / n, got.projectionRms(), 1e-10, "band " + b + " (b) mean");
                    }
                }
            }
        }
    }

    @Test
    void scalingTheDataScalesBothStatisticsSoTheRatioIsTheScale() {
        // both statistics are positively homogeneous of degree 1 in x: data = 2.5 · clean gives ratio 2.5 exactly
        // up to rounding (relative 1e-12)
        int dOut = 20;
        int dIn = 16;
        try (Arena arena = Arena.ofShared()) {
            KroneckerFactors factors = CurvatureEditTest.randomFactors(arena, dOut, dIn, 21);
            try (FactorEigenbasis basis = FactorEigenbasis.of(backend, factors);
                 BandActivation bands = new BandActivation(backend, basis,
                         Tensor.of(arena, DType.F64, randomValues(new Random(22), dOut * dIn), dOut, dIn),
                         CurvatureBand.DEFAULTS)) {
                double[] clean = randomValues(new Random(23), 40 * dIn);
                double[] data = clean.clone();
                for (int k = 0; k < data.length; k++) {
                    data[k] *= 2.5;
                }
                BandActivation.Tally onClean = bands.newTally();
                BandActivation.Tally onData = bands.newTally();
                bands.accumulate(onClean, Tensor.of(arena, DType.F64, clean, 40, dIn));
                bands.accumulate(onData, Tensor.of(arena, DType.F64, data, 40, dIn));
                List<BandActivation.BandRatio> ratios = BandActivation.ratios(onData.means(), onClean.means());
                assertEquals(4, ratios.size());
                for (BandActivation.BandRatio r : ratios) {
                    assertRelative(2.5, r.outputNormRatio(), 1e-12, r.label() + " (a)");
                    assertRelative(2.5, r.projectionRmsRatio(), 1e-12, r.label() + " (b)");
                    assertEquals(r.dataOutputNorm() / r.cleanOutputNorm(), r.outputNormRatio());
                }
            }
        }
    }

    @Test
    void observerTalliesEachSequencesOwnPositionsAsIfRunAlone() {
        // reference: each sequence run alone (batch 1, its own length) with the layer's input copied out whole, the
        // rows added to a tally directly; tolerance: relative 1e-12 (float64 model; padding cannot leak under causal
        // attention, so the rows are the same up to summation order)
        Gpt2Model model = Fixtures.model();
        String layer = "h.1.mlp.c_fc";
        Random random = new Random(31);
        List<int[]> sequences = new ArrayList<>();
        for (int length : new int[]{5, 32, 1, 17, 9}) {
            int[] s = new int[length];
            for (int t = 0; t < length; t++) {
                s[t] = random.nextInt(model.config().vocabSize());
            }
            sequences.add(s);
        }
        long cap = 5 + 32 + 1 + 10;   // cuts the fourth sequence to 10 tokens and drops the fifth
        try (Arena arena = Arena.ofShared()) {
            KroneckerFactors factors = named(layer, CurvatureEditTest.randomFactors(arena, 128, 32, 32));
            try (FactorEigenbasis basis = FactorEigenbasis.of(backend, factors);
                 BandActivation bands = new BandActivation(backend, basis, model.parameters().get(layer + ".weight"),
                         CurvatureBand.fromEdges(0, 0.3, 1))) {
                Map<String, BandActivation.LayerMeans> measured;
                try (BandInputs inputs = new BandInputs(model, List.of(bands))) {
                    measured = inputs.measure(sequences, 2, cap, (done, total, positions) -> { });
                }
                BandActivation.Tally reference = bands.newTally();
                int[] lengths = {5, 32, 1, 10};
                for (int k = 0; k < lengths.length; k++) {
                    int[] ids = Arrays.copyOf(sequences.get(k), lengths[k]);
                    double[][] copied = new double[1][];
                    LinearObserver copier = new LinearObserver() {
                        public boolean observes(String name) {
                            return name.equals(layer);
                        }

                        public void onInput(String name, Tensor x) {
                            copied[0] = x.toDoubleArray();
                        }

                        public void onOutputGradient(String name, Tensor dy) {
                        }
                    };
                    int[] targets = new int[ids.length];
                    Arrays.fill(targets, -1);
                    model.addObserver(copier);
                    try (Workspace act = model.workspace(1, ids.length)) {
                        model.forward(act, new Batch.Tokens(ids, targets));
                    } finally {
                        model.removeObserver(copier);
                    }
                    bands.accumulate(reference, Tensor.of(arena, DType.F64, copied[0], ids.length, 32));
                }
                BandActivation.LayerMeans expected = reference.means();
                BandActivation.LayerMeans got = measured.get(layer);
                assertEquals(48, got.positions());
                for (int b = 0; b < 2; b++) {
                    assertRelative(expected.bands().get(b).outputNorm(), got.bands().get(b).outputNorm(), 1e-12,
                            "band " + b + " (a)");
                    assertRelative(expected.bands().get(b).projectionRms(), got.bands().get(b).projectionRms(), 1e-12,
                            "band " + b + " (b)");
                }
            }
        }
    }

    @Test
    void badInputsAreRefusedNamingTheLayerOrSequence() {
        Gpt2Model model = Fixtures.model();
        try (Arena arena = Arena.ofShared()) {
            KroneckerFactors factors = named("h.0.mlp.c_fc", CurvatureEditTest.randomFactors(arena, 128, 32, 41));
            try (FactorEigenbasis basis = FactorEigenbasis.of(backend, factors)) {
                IllegalArgumentException shape = assertThrows(IllegalArgumentException.class,
                        () -> new BandActivation(backend, basis, model.parameters().get("h.0.mlp.c_proj.weight"),
                                CurvatureBand.DEFAULTS));
                assertTrue(shape.getMessage().startsWith("band activation of h.0.mlp.c_fc: weight"), shape.getMessage());
                try (BandActivation bands = new BandActivation(backend, basis,
                        model.parameters().get("h.0.mlp.c_fc.weight"), CurvatureBand.DEFAULTS);
                     BandInputs inputs = new BandInputs(model, List.of(bands))) {
                    IllegalArgumentException tooLong = assertThrows(IllegalArgumentException.class,
                            () -> inputs.measure(List.of(new int[3], new int[33]), 1, 0, (d, t, p) -> { }));
                    assertTrue(tooLong.getMessage().contains("sequence 1 has 33 tokens"), tooLong.getMessage());
                }
            }
        }
    }

    @Test
    void cleanTextWindowsAreConsecutiveAndCapped() {
        int[] tokens = new int[10];
        for (int t = 0; t < tokens.length; t++) {
            tokens[t] = t;
        }
        List<int[]> windows = BandInputs.windows(tokens, 4, 9);
        assertEquals("[[0, 1, 2, 3], [4, 5, 6, 7], [8]]", windows.stream().map(Arrays::toString).toList().toString());
        assertEquals(3, BandInputs.windows(tokens, 4, 0).size());
    }

    @Test
    void severalDataSetsAtOnceGiveEachSetsOwnReport() {
        // reference: each data set through its own BandAnalysis.run; runEach measures the clean text once per window
        // length, which must not change any figure (records compared exactly), with a fixed and a data-set window
        Gpt2Model model = Fixtures.model();
        String layer = "h.1.mlp.c_fc";
        Random random = new Random(7);
        Map<String, List<int[]>> sets = new java.util.LinkedHashMap<>();
        for (String name : List.of("short", "long", "short again")) {
            List<int[]> sequences = new ArrayList<>();
            for (int k = 0; k < 3; k++) {
                int[] s = new int[name.startsWith("short") ? 6 : 20];
                for (int t = 0; t < s.length; t++) {
                    s[t] = random.nextInt(model.config().vocabSize());
                }
                sequences.add(s);
            }
            sets.put(name, sequences);
        }
        int[] clean = new int[200];
        for (int t = 0; t < clean.length; t++) {
            clean[t] = random.nextInt(model.config().vocabSize());
        }
        String fingerprint = ModelFingerprint.of(model.parameters());
        try (Arena arena = Arena.ofShared()) {
            KroneckerFactors factors = named(layer, CurvatureEditTest.randomFactors(arena, 128, 32, 32));
            try (FactorEigenbasis basis = FactorEigenbasis.of(backend, factors)) {
                for (int cleanWindow : new int[]{16, 0}) {
                    var options = new BandAnalysis.Options(CurvatureBand.fromEdges(0, 0.3, 1), 2, cleanWindow, 0);
                    Map<String, BandAnalysis.Report> together = BandAnalysis.runEach(model, Map.of(layer, basis),
                            fingerprint, List.of(layer), sets, clean, options, (set, done, total, positions) -> { });
                    assertEquals(List.copyOf(sets.keySet()), List.copyOf(together.keySet()));
                    for (var set : sets.entrySet()) {
                        assertEquals(BandAnalysis.run(model, Map.of(layer, basis), fingerprint, List.of(layer),
                                        set.getValue(), clean, options, (s, done, total, positions) -> { }),
                                together.get(set.getKey()), set.getKey() + ", clean window " + cleanWindow);
                    }
                }
            }
        }
    }

    /** The same factors under a model layer's name. */
    private static KroneckerFactors named(String layer, KroneckerFactors factors) {
        return new KroneckerFactors(layer, factors.activations(), factors.gradients());
    }

    private static void assertRelative(double expected, double actual, double tolerance, String what) {
        double error = Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-300);
        assertTrue(error <= tolerance, what + ": expected " + expected + ", got " + actual + " (relative error "
                + error + ")");
    }
}
