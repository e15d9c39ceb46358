package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.DType;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.llama.LlamaConfig;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.ModelConfig;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.Workspace;
import dev.curvature.transformer.train.ModelInitializer;
import dev.curvature.transformer.train.TokenWindows;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The throughput of K-FAC factor collection (every MLP projection, gold labels) on a randomly initialised GPT-2,
 * measured against plain forward + backward steps with no observer on the same batches in the same run.
 *
 * <p>Each measured step runs one plain step, then one collection step, on the same batch: interleaving the two keeps
 * a load change on a shared machine from landing on one side only. Both backward passes are of the summed loss
 * (scale 1, as {@link KfacCollector} uses), so the difference between the two is the observers' work: gathering the
 * counted rows and the SYRK updates of A and G. The cost of a step does not depend on the weights' values, so
 * GPT-2's random initialisation (fixed seed) and random token ids (fixed seed) stand in for a real model and corpus.
 * Tokens per step are B·T; the last position of each window has no next token and adds nothing to A and G, but it
 * is computed like any other.
 */
public final class CollectionThroughput {
    /** Every MLP projection: h.*.mlp.c_fc (A: C×C, G: F×F) and h.*.mlp.c_proj (A: F×F, G: C×C). */
    public static final String COLLECTED_LAYERS = LayerSelection.DEFAULT;
    private static final long WEIGHT_SEED = 1;
    private static final long TOKEN_SEED = 2;
    /** Timed calls of each SGEMM shape (after one untimed): the LM head's takes ≈ 0.5 s per call on 2 cores. */
    private static final int SGEMM_REPEATS = 2;

    private CollectionThroughput() {
    }

    /**
     * The shape of OLMo-2 1B ({@code allenai/OLMo-2-0425-1B}): 16 blocks, hidden 2048, SwiGLU 8192, 16 heads (no
     * grouping), vocabulary 100,352, context 4096, untied head — for benchmarks with random weights.
     */
    public static LlamaConfig olmo2OneBillion() {
        return LlamaConfig.of("olmo2", 2048, 8192, 16, 16, 16, 100_352, 4096, false);
    }

    /** The paper's 1B edit setting (ALGORITHMS.md §1.3): gate, up and down projections of blocks 13–15. */
    public static final String OLMO2_1B_LAYERS = "model.layers.13.mlp.*,model.layers.14.mlp.*,model.layers.15.mlp.*";

    /**
     * What to measure. Defaults of {@code curvature bench}: GPT-2 small (12 layers, width 768, 12 heads, vocabulary
     * 50,257), batch 4 × 256, 1 warm-up step and 3 measured steps of each kind.
     *
     * @param layers       transformer blocks
     * @param width        model width C (n_embd); the MLP is 4C wide
     * @param heads        attention heads; divides width
     * @param vocab        vocabulary size V
     * @param batch        windows per step B
     * @param time         tokens per window T; the model's context is max(1024, T)
     * @param warmupSteps  unmeasured steps of each kind first (buffers allocated, code compiled, caches warm)
     * @param steps        measured steps of each kind
     * @param precision    how the collector forms and sums the factors
     */
    public record Options(int layers, int width, int heads, int vocab, int batch, int time, int warmupSteps, int steps,
                          CovariancePrecision precision) {
        public Options {
            requirePositive("layers", layers);
            requirePositive("width", width);
            requirePositive("heads", heads);
            requirePositive("vocab", vocab);
            requirePositive("batch", batch);
            requirePositive("steps", steps);
            if (width % heads != 0) {
                throw new IllegalArgumentException("width " + width + " is not divisible by heads " + heads
                        + " (each head is width/heads wide)");
            }
            if (time < 2) {
                throw new IllegalArgumentException("time must be at least 2 (the last position of a window has no "
                        + "target, so a window of " + time + " counts no position), got " + time);
            }
            if (warmupSteps < 0) {
                throw new IllegalArgumentException("warmup steps must be >= 0, got " + warmupSteps);
            }
            if (precision == null) {
                throw new IllegalArgumentException("precision must be given (F32_WITH_F64_SUMS or F64_EXACT)");
            }
            long tokens = (long) batch * time * (warmupSteps + (long) steps);
            if (tokens > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("batch × time × (warmup + steps) = " + tokens
                        + " tokens does not fit one token array; use fewer or smaller steps");
            }
        }

        /** The model shape: GPT-2 with context max(1024, time), MLP width 4·width. */
        public Gpt2Config config() {
            return Gpt2Config.of(layers, heads, width, vocab, Math.max(1024, time));
        }

        private static void requirePositive(String name, int value) {
            if (value < 1) {
                throw new IllegalArgumentException(name + " must be >= 1, got " + value);
            }
        }
    }

    /**
     * Timings of one kind of step.
     *
     * @param steps           measured steps
     * @param seconds         their total wall time
     * @param stepSeconds     each step's wall time, in order
     * @param flopsPerStep    counted flops of one step ({@link CollectionStepFlops})
     * @param tokensPerSecond steps · B·T / seconds
     * @param gflopPerSecond  steps · flopsPerStep / seconds / 10⁹
     */
    public record Measurement(int steps, double seconds, List<Double> stepSeconds, double flopsPerStep,
                              double tokensPerSecond, double gflopPerSecond) {
        static Measurement of(List<Double> stepSeconds, long tokensPerStep, double flopsPerStep) {
            double total = stepSeconds.stream().mapToDouble(Double::doubleValue).sum();
            int steps = stepSeconds.size();
            return new Measurement(steps, total, List.copyOf(stepSeconds), flopsPerStep,
                    steps * (double) tokensPerStep / total, steps * flopsPerStep / total / 1e9);
        }
    }

    /**
     * The result.
     *
     * @param options          what was measured
     * @param model            the model shape it implies
     * @param backend          the backend's description (library, threads)
     * @param collectedLayers  the layers whose A and G were accumulated
     * @param tokensPerStep    B·T
     * @param countedPositionsPerStep B·(T − 1): rows added to every A and G per step (gold labels, consecutive
     *                         windows: the last position of each has no target)
     * @param flops            the flop count of one step, term by term
     * @param plain            forward + backward with no observer
     * @param collection       forward + backward with the K-FAC collector observing
     * @param overheadRatio    collection tokens/s ÷ plain tokens/s (1 would be free collection)
     * @param sgemm            this machine's SGEMM rate at the step's main product shapes, measured in this run:
     *                         the faster of a measurement before the steps and one after them (on a shared
     *                         machine a load change during one of them would otherwise inflate the shares)
     * @param sgemmBeforeSteps the combined rate measured before the steps, GFLOP/s
     * @param sgemmAfterSteps  the combined rate measured after them, GFLOP/s
     * @param plainShareOfSgemm      plain GFLOP/s ÷ the SGEMM rate (NaN without plain steps)
     * @param collectionShareOfSgemm collection GFLOP/s ÷ the SGEMM rate
     */
    public record Report(Options options, ModelConfig model, String backend, List<String> collectedLayers,
                         long tokensPerStep, long countedPositionsPerStep, CollectionStepFlops flops,
                         Measurement plain, Measurement collection, double overheadRatio, SgemmRate sgemm,
                         double sgemmBeforeSteps, double sgemmAfterSteps, double plainShareOfSgemm,
                         double collectionShareOfSgemm) {
    }

    /** Told which kind of step runs next ("warmup", "plain", "collection"): a profiler's sections. */
    @FunctionalInterface
    public interface StepKinds {
        StepKinds NONE = kind -> { };

        void entering(String kind);
    }

    /** Progress: step pairs (plain + collection) done of total, warm-up included. */
    @FunctionalInterface
    public interface Progress {
        void update(long stepPairsDone, long stepPairsTotal);
    }

    /**
     * Builds the model (F32, random weights), runs {@code warmupSteps} then {@code steps} interleaved plain and
     * collection steps on the same random batches, and reports their rates. Everything allocated here is freed here.
     */
    public static Report measure(Backend backend, Options options, Progress progress) {
        return measure(backend, options, options.config(), LayerSelection.parse(COLLECTED_LAYERS), true, progress,
                StepKinds.NONE);
    }

    /**
     * The same for a model of any family: {@code config} with random weights (F32), the layers {@code selection}
     * picks, batch × time and step counts from {@code options} (its GPT-2 shape fields are not used); with
     * {@code plainSteps} false only collection steps run (no parameter gradients are allocated: the memory of a
     * collection run alone) and the plain measurement is absent.
     */
    public static Report measure(Backend backend, Options options, ModelConfig config, LayerSelection selection,
                                 boolean plainSteps, Progress progress, StepKinds kinds) {
        int batch = options.batch();
        int time = options.time();
        if (time > config.contextLength()) {
            throw new IllegalArgumentException("time " + time + " exceeds the model's context of "
                    + config.contextLength());
        }
        int totalSteps = options.warmupSteps() + options.steps();
        long tokensPerStep = (long) batch * time;
        long countedPerStep = (long) batch * (time - 1);
        CollectionStepFlops flops = CollectionStepFlops.of(config, batch, time, countedPerStep, selection);
        int[] tokens = randomTokens(config.vocabSize(), (int) (tokensPerStep * totalSteps));
        List<SgemmRate.Shape> shapes = SgemmRate.stepShapes(config, batch * time);
        kinds.entering("sgemm reference");
        SgemmRate sgemmBefore = SgemmRate.measure(backend, shapes, SGEMM_REPEATS);
        List<Double> plainSeconds = new ArrayList<>();
        List<Double> collectionSeconds = new ArrayList<>();
        List<String> collected;
        try (ParameterSet weights = ParameterSet.allocate(backend, config, DType.F32)) {
            ModelInitializer.initialize(weights, WEIGHT_SEED);
            Model model = config.model(backend, weights);
            // one activation buffer for both kinds of step: they run one after the other on the same batch shape
            try (Workspace act = model.workspace(batch, time);
                 ParameterSet plainGradients = plainSteps ? model.allocateGradients() : null;
                 KfacCollector collector = new KfacCollector(backend, model, selection, KfacCollector.Labels.GOLD, 0,
                         options.precision())) {
                collected = List.copyOf(collector.factors().keySet());
                int[] ids = new int[(int) tokensPerStep];
                int[] targets = new int[ids.length];
                progress.update(0, totalSteps);
                for (int step = 0; step < totalSteps; step++) {
                    TokenWindows.consecutive(tokens, (long) step * batch, batch, time, ids, targets);
                    boolean measured = step >= options.warmupSteps();
                    long start = System.nanoTime();
                    if (plainSteps) {
                        kinds.entering(measured ? "plain" : "warmup");
                        model.forward(act, new Batch.Tokens(ids, targets));
                        model.backward(act, plainGradients, 1.0);
                    }
                    long plainEnd = System.nanoTime();
                    kinds.entering(measured ? "collection" : "warmup");
                    collector.collect(act, ids, targets);
                    long collectionEnd = System.nanoTime();
                    kinds.entering("between steps");
                    if (measured) {
                        plainSeconds.add((plainEnd - start) / 1e9);
                        collectionSeconds.add((collectionEnd - plainEnd) / 1e9);
                    }
                    progress.update(step + 1, totalSteps);
                }
            }
        }
        Measurement plain = plainSteps ? Measurement.of(plainSeconds, tokensPerStep, flops.plainStep()) : null;
        Measurement collection = Measurement.of(collectionSeconds, tokensPerStep, flops.collectionStep());
        kinds.entering("sgemm reference");
        SgemmRate sgemmAfter = SgemmRate.measure(backend, shapes, SGEMM_REPEATS);
        kinds.entering("between steps");
        SgemmRate sgemm = sgemmAfter.gflopPerSecond() > sgemmBefore.gflopPerSecond() ? sgemmAfter : sgemmBefore;
        double rate = sgemm.gflopPerSecond();
        return new Report(options, config, backend.name(), collected, tokensPerStep, countedPerStep, flops, plain,
                collection, plain == null ? Double.NaN : collection.tokensPerSecond() / plain.tokensPerSecond(),
                sgemm, sgemmBefore.gflopPerSecond(), sgemmAfter.gflopPerSecond(),
                plain == null ? Double.NaN : plain.gflopPerSecond() / rate, collection.gflopPerSecond() / rate);
    }

    /** A token stream of uniform ids in [0, vocab), seeded: every run measures the same batches. */
    private static int[] randomTokens(int vocab, int count) {
        SplittableRandom random = new SplittableRandom(TOKEN_SEED);
        int[] tokens = new int[count];
        for (int i = 0; i < count; i++) {
            tokens[i] = random.nextInt(vocab);
        }
        return tokens;
    }
}
