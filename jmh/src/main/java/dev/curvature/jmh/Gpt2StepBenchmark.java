package dev.curvature.jmh;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.Workspace;
import dev.curvature.transformer.train.ModelInitializer;
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
 * One forward + backward pass of GPT-2 small (12 layers, d = 768, 12 heads, vocab 50,257) on a batch of
 * 4 × 256 tokens in float32 — the cost every curvature computation pays per batch. Weights are GPT-2's random
 * initialisation (the cost does not depend on the values). {@link BenchmarkReport} turns the time into tokens/s and
 * GFLOP/s with {@link dev.curvature.kfac.CollectionStepFlops#plainStep()}: 3 × (L·(24C² + 4TC) + 2CV) flops per token
 * (forward GEMMs once, backward twice).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1, time = 10)
@Measurement(iterations = 3, time = 15)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector", "-Xmx6g"})
public class Gpt2StepBenchmark {
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

    private CpuBackend backend;
    private ParameterSet weights;
    private ParameterSet grads;
    private Gpt2Model model;
    private Workspace activations;
    private int[] ids;
    private int[] targets;

    @Setup(Level.Trial)
    public void setUp() {
        backend = new CpuBackend(threads);
        Gpt2Config config = Gpt2Config.of(layers, heads, width, vocab, Math.max(1024, time));
        weights = ParameterSet.allocate(backend, config, DType.F32);
        ModelInitializer.initialize(weights, 1);
        model = new Gpt2Model(backend, weights);
        grads = model.allocateGradients();
        activations = model.workspace(batch, time);
        System.err.print(activations.memoryPlan());
        SplittableRandom random = new SplittableRandom(2);
        ids = new int[batch * time];
        targets = new int[batch * time];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = random.nextInt(vocab);
            targets[i] = random.nextInt(vocab);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        activations.close();
        grads.close();
        weights.close();
        backend.close();
    }

    @Benchmark
    public double forwardBackward() {
        double loss = model.forward(activations, new Batch.Tokens(ids, targets));
        model.backward(activations, grads);
        return loss;
    }
}
