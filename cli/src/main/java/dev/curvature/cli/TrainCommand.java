package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.data.TextCorpus;
import dev.curvature.transformer.llama.LlamaConfig;
import dev.curvature.transformer.model.ModelConfig;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.tokenizer.BytePairTokenizer;
import dev.curvature.transformer.tokenizer.ByteTokenizer;
import dev.curvature.transformer.tokenizer.Tokenizer;
import dev.curvature.transformer.train.ModelInitializer;
import dev.curvature.transformer.train.TokenWindows;
import dev.curvature.transformer.train.Trainer;
import dev.curvature.transformer.train.TrainingOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code curvature train}: trains a small GPT-2, Llama or OLMo-2 from scratch (or resumes a run) on a text corpus. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Trains a small GPT-2, Llama or OLMo-2 on a corpus with AdamW; resumable.",
                "",
                "Builds models with known, controlled memorization. The corpus (text or JSONL) is tokenized "
                        + "(bytes by default, or --tokenizer tokenizer.json), cut into windows of --time tokens every "
                        + "--stride tokens, and read in a seeded order that depends only on (seed, step). A checkpoint "
                        + "directory (HF layout + optimizer moments + trainer.json + each window's cumulative "
                        + "training loss in sample-losses.safetensors) is written every --checkpoint-every steps and "
                        + "at the end; --resume continues from it bit for bit. --snapshots keeps models from along "
                        + "the way.",
                "",
                "Prints a summary (checkpoint directory, steps, final loss) on stderr; --json also prints it as "
                        + "JSON on stdout. Progress on stderr."})
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--corpus", required = true, paramLabel = "FILE", description = "Training text or JSONL.")
    Path corpus;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Checkpoint directory (written and "
            + "resumed from).")
    Path out;

    @Option(names = "--resume", description = "Continue the run whose checkpoint is in --out (model and training "
            + "options come from the checkpoint).")
    boolean resume;

    @Option(names = "--tokenizer", paramLabel = "FILE|bytes", defaultValue = "bytes",
            description = "'bytes' (vocabulary 256, default) or a tokenizer.json (copied into --out).")
    String tokenizer;

    @Option(names = "--family", defaultValue = "gpt2", paramLabel = "gpt2|llama|olmo2",
            description = "Model family (default: ${DEFAULT-VALUE}). llama: RMSNorm, rotary, grouped-query attention, "
                    + "SwiGLU; olmo2: the same with post-norms and QK-norm (the paper's models).")
    String family;

    @Option(names = "--layers", defaultValue = "4", description = "Transformer blocks (default: ${DEFAULT-VALUE}).")
    int layers;

    @Option(names = "--width", defaultValue = "128", description = "Model width C (default: ${DEFAULT-VALUE}).")
    int width;

    @Option(names = "--heads", defaultValue = "4", description = "Attention heads (default: ${DEFAULT-VALUE}).")
    int heads;

    @Option(names = "--kv-heads", paramLabel = "N", description = "llama/olmo2: key/value heads, dividing --heads "
            + "(grouped-query attention; default: --heads).")
    Integer kvHeads;

    @Option(names = "--inner", paramLabel = "N", description = "MLP width (default: 4 × width for gpt2; for "
            + "llama/olmo2 the SwiGLU width 8/3 × width rounded up to a multiple of 8, as Llama sizes it).")
    Integer inner;

    @Option(names = "--tied", description = "llama/olmo2: tie the LM head to the token embedding (default: untied, "
            + "as OLMo-2).")
    boolean tied;

    @Option(names = "--time", defaultValue = "128", description = "Tokens per window = n_positions (default: "
            + "${DEFAULT-VALUE}).")
    int time;

    @Option(names = "--stride", paramLabel = "N", description = "Tokens between window starts (default: --time / 2).")
    Integer stride;

    @Option(names = "--batch", defaultValue = "16", description = "Windows per step (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--steps", defaultValue = "1000", description = "Optimizer steps (default: ${DEFAULT-VALUE}).")
    long steps;

    @Option(names = "--lr", defaultValue = "3e-3", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    double learningRate;

    @Option(names = "--min-lr", defaultValue = "3e-4", description = "Final learning rate of the cosine decay "
            + "(default: ${DEFAULT-VALUE}).")
    double minLearningRate;

    @Option(names = "--warmup", defaultValue = "50", description = "Linear warmup steps (default: ${DEFAULT-VALUE}).")
    long warmup;

    @Option(names = "--weight-decay", defaultValue = "0.1", description = "AdamW weight decay on matrices (default: "
            + "${DEFAULT-VALUE}).")
    double weightDecay;

    @Option(names = "--clip", defaultValue = "1.0", description = "Global gradient-norm clip, 0 for none (default: "
            + "${DEFAULT-VALUE}).")
    double clip;

    @Option(names = "--seed", defaultValue = "1", description = "Initialisation and data-order seed (default: "
            + "${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--dtype", defaultValue = "F32", paramLabel = "F32|F64", description = "Compute dtype (default: "
            + "${DEFAULT-VALUE}).")
    DType dtype;

    @Option(names = "--checkpoint-every", defaultValue = "200", paramLabel = "STEPS",
            description = "Write the checkpoint every STEPS steps (default: ${DEFAULT-VALUE}).")
    long checkpointEvery;

    @Option(names = "--snapshots", defaultValue = "1", paramLabel = "N",
            description = "Also keep N − 1 model snapshots spread evenly over training, after steps ⌊k·steps/N⌋, in "
                    + "<out>-snapshots/step-NNNNNN (HF layout, no optimizer state): the checkpoints `score` averages "
                    + "over. 1 (default): the final checkpoint only.")
    int snapshots;

    @picocli.CommandLine.Mixin
    BackendOptions compute;

    @Mixin
    ReportOutput output;

    @Override
    public Integer call() throws Exception {
        OptionRanges.require("--snapshots", snapshots, 1, 1000);
        OutputPaths.requireDistinct("--out", out, Map.of("corpus (--corpus)", List.of(corpus), "tokenizer (--tokenizer)",
                "bytes".equals(tokenizer) ? List.of() : List.of(Path.of(tokenizer))));
        try (OutputFiles.Lock lock = OutputFiles.lock(out)) {
            OutputFiles.cleanLeftovers(out);
            return train();
        }
    }

    private Integer train() throws Exception {
        Tokenizer tok = "bytes".equals(tokenizer) ? new ByteTokenizer()
                : BytePairTokenizer.fromTokenizerJson(Path.of(tokenizer));
        int[] tokens = TextCorpus.read(corpus).tokens(tok);
        try (Backend backend = compute.backend()) {
            Trainer trainer;
            if (resume) {
                TrainingOptions saved = Trainer.readState(out).options();
                trainer = Trainer.resume(backend, out,
                        new TokenWindows(tokens, saved.time(), saved.stride(), saved.seed()), dtype);
                System.err.printf("resuming at step %d of %d%n", trainer.step(), saved.steps());
            } else {
                if (Files.exists(out.resolve("trainer.json"))) {
                    throw new IllegalArgumentException(out + " already holds a training run: pass --resume to continue "
                            + "it, or choose another --out");
                }
                int windowStride = stride != null ? stride : Math.max(1, time / 2);
                TrainingOptions options = new TrainingOptions(batch, time, windowStride, steps, learningRate,
                        minLearningRate, warmup, weightDecay, 0.9, 0.95, 1e-8, clip, seed);
                ModelConfig config = config(tok.vocabularySize());
                ParameterSet weights = ParameterSet.allocate(backend, config, dtype);
                ModelInitializer.initialize(weights, seed);
                trainer = new Trainer(config.model(backend, weights),
                        new TokenWindows(tokens, time, windowStride, seed), options).trackSampleLosses();
                System.err.printf("%d tokens; model %d parameters%n", tokens.length, weights.count());
            }
            if (snapshots > 1) {
                trainer.keepSnapshots(snapshotFolder(), Trainer.evenSnapshotSteps(trainer.options().steps(), snapshots));
            }
            System.err.print(trainer.memoryPlan());
            Map<String, Object> result = new LinkedHashMap<>();
            String summary;
            try (trainer) {
                long total = trainer.options().steps();
                ProgressLine progress = new ProgressLine("train", "steps");
                long tokensPerStep = (long) trainer.options().batch() * trainer.options().time();
                double[] lastLoss = {Double.NaN};
                trainer.train(report -> {
                    lastLoss[0] = report.loss();
                    progress.update(report.step(), total, report.step() * tokensPerStep);
                }, out, checkpointEvery);
                result.put("checkpoint", out.toString());
                if (snapshots > 1) {
                    result.put("snapshots", snapshotFolder().toString());
                }
                result.put("steps", trainer.step());
                result.put("finalLoss", lastLoss[0]);
                summary = String.format("checkpoint: %s%nsteps: %d of %d; final loss %.4f (mean cross-entropy "
                        + "of the last batch)%n", out, trainer.step(), total, lastLoss[0]);
            } finally {
                trainer.model().parameters().close();
            }
            if (!"bytes".equals(tokenizer)) {
                OutputFiles.writeAtomically(out.resolve("tokenizer.json"), Files.readAllBytes(Path.of(tokenizer)));
            }
            output.print(result, summary);
            return 0;
        }
    }

    /** {@code <out>-snapshots}, beside the checkpoint directory (which each checkpoint write replaces whole). */
    Path snapshotFolder() {
        Path absolute = out.toAbsolutePath().normalize();
        return absolute.resolveSibling(absolute.getFileName() + "-snapshots");
    }

    /** The new model's config from the options. */
    ModelConfig config(int vocabulary) {
        switch (family) {
            case "gpt2" -> {
                if (kvHeads != null || tied) {
                    throw new IllegalArgumentException("--kv-heads and --tied are for llama/olmo2 (GPT-2 ties its head"
                            + " and has one key/value head per query head)");
                }
                Gpt2Config c = Gpt2Config.of(layers, heads, width, vocabulary, time);
                return inner == null ? c : new Gpt2Config(c.nLayer(), c.nHead(), c.nEmbd(), c.vocabSize(),
                        c.nPositions(), inner, c.layerNormEpsilon(), c.activationFunction());
            }
            case "llama", "olmo2" -> {
                int mlp = inner != null ? inner : (int) ((8L * width / 3 + 7) / 8 * 8);
                return LlamaConfig.of(family, width, mlp, layers, heads, kvHeads != null ? kvHeads : heads, vocabulary,
                        time, tied);
            }
            default -> throw new IllegalArgumentException("--family '" + family + "' is not one of gpt2, llama, olmo2");
        }
    }
}
