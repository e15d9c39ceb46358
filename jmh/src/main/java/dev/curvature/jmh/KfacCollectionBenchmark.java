package dev.curvature.jmh;

import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.kfac.CollectionThroughput;
import dev.curvature.kfac.KfacCollector;
import dev.curvature.kfac.LayerSelection;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.Workspace;
import dev.curvature.transformer.train.ModelInitializer;
import dev.curvature.transformer.train.TokenWindows;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * One K-FAC collection step of GPT-2 small (12 layers, d = 768, 12 heads, vocab 50,257) on a batch of 4 × 256
 * tokens in float32: forward, backward of the summed loss with gold labels, and A += XᵀX, G += ΓᵀΓ for all 24 MLP
 * projections (A and G are 768² and 3072², 1020 counted rows per step). Same shape, weights and setting as
 * {@link Gpt2StepBenchmark}, so {@link BenchmarkReport} can put the two side by side: their ratio is the collection
 * overhead. The factor sums keep growing across invocations; their values do not change the cost.
 * Flops per step: {@link dev.curvature.kfac.CollectionStepFlops}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1, time = 10)
@Measurement(iterations = 3, time = 15)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector", "-Xmx6g"})
public class KfacCollectionBenchmark {
    @Param({"12"})
    public int layers;
    @Param({"768"})
    public int width;
    @Param({"12"})
    public int heads;
    @Param({"50257"})
    public int vocab;
    @Param({"4"})
    public int batch;
    @Param({"256"})
    public int time;
    @Param({"2"})
    public int threads;
    @Param({"F32_WITH_F64_SUMS"})
    public CovariancePrecision precision;

    private CpuBackend backend;
    private ParameterSet weights;
    private Workspace activations;
    private KfacCollector collector;
    private int[] ids;
    private int[] targets;

    @Setup(Level.Trial)
    public void setUp() {
        backend = new CpuBackend(threads);
        Gpt2Config config = Gpt2Config.of(layers, heads, width, vocab, Math.max(1024, time));
        weights = ParameterSet.allocate(backend, config, DType.F32);
        ModelInitializer.initialize(weights, 1);
        Gpt2Model model = new Gpt2Model(backend, weights);
        activations = model.workspace(batch, time);
        collector = new KfacCollector(backend, model, LayerSelection.parse(CollectionThroughput.COLLECTED_LAYERS),
                KfacCollector.Labels.GOLD, 0, precision);
        // one batch of consecutive windows over random ids: targets are the next ids, −1 at each window's end
        SplittableRandom random = new SplittableRandom(2);
        int[] tokens = new int[batch * time];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = random.nextInt(vocab);
        }
        ids = new int[tokens.length];
        targets = new int[tokens.length];
        TokenWindows.consecutive(tokens, 0, batch, time, ids, targets);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        collector.close();
        activations.close();
        weights.close();
        backend.close();
    }

    @Benchmark
    public double collect() {
        return collector.collect(activations, ids, targets);
    }
}
