package dev.curvature.transformer.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.AtomicDirectory;
import dev.curvature.transformer.checkpoint.CheckpointFormatException;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.checkpoint.SafetensorsFile;
import dev.curvature.transformer.checkpoint.SafetensorsWriter;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.Workspace;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Trains a model of any family with AdamW: warmup + cosine schedule, global-norm gradient clipping, deterministic data order.
 * A checkpoint is a directory holding the model in HF layout ({@code config.json}, {@code model.safetensors}, in the
 * model's own dtype so nothing is rounded), the AdamW moments ({@code optimizer.safetensors}) and the step and
 * options ({@code trainer.json}), and the cumulative sample losses when tracked ({@link SampleLosses}); resuming from
 * it continues exactly as the uninterrupted run would have.
 */
public final class Trainer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** What one optimizer step did. */
    public record StepReport(long step, double loss, double learningRate, double gradientNorm, double seconds) {
    }

    /** The trainer's own state, written as trainer.json. */
    public record TrainerState(long step, TrainingOptions options) {
    }

    private final Model model;
    private final Backend backend;
    private final BatchSource data;
    private final TrainingOptions options;
    private final ParameterSet grads;
    private final ParameterSet firstMoments;
    private final ParameterSet secondMoments;
    private final Workspace activations;
    private SampleLosses sampleLosses;
    private Path snapshotFolder;
    private long[] snapshotSteps = new long[0];
    private long step;

    public Trainer(Model model, BatchSource data, TrainingOptions options) {
        if (data.time() != options.time()) {
            throw new IllegalArgumentException("data samples of " + data.time() + " positions, options say "
                    + options.time());
        }
        this.model = model;
        this.backend = model.backend();
        this.data = data;
        this.options = options;
        ParameterSet g = null;
        ParameterSet m = null;
        ParameterSet v = null;
        try {
            g = model.allocateGradients();
            m = model.allocateGradients();
            v = model.allocateGradients();
            this.activations = model.workspace(options.batch(), options.time());
        } catch (RuntimeException | Error e) {      // nothing half-built stays allocated
            for (ParameterSet built : new ParameterSet[]{g, m, v}) {
                if (built != null) {
                    built.close();
                }
            }
            throw e;
        }
        this.grads = g;
        this.firstMoments = m;
        this.secondMoments = v;
    }

    /**
     * From now on, adds every trained sample's loss to its cumulative sample loss (CSL), saved with each checkpoint
     * ({@link SampleLosses#FILE}) and continued on resume. Call before the first step for the full CSL.
     */
    public Trainer trackSampleLosses() {
        if (sampleLosses == null) {
            sampleLosses = new SampleLosses(data.sampleCount());
        }
        return this;
    }

    /**
     * Keeps a snapshot of the model (HF layout, no optimizer state) after each of {@code steps}, in
     * {@link #snapshotDirectory}{@code (folder, step)}: the checkpoints a score averaged over training reads.
     */
    public Trainer keepSnapshots(Path folder, long... steps) {
        this.snapshotFolder = folder;
        this.snapshotSteps = steps.clone();
        return this;
    }

    /** Steps ⌊k·total/count⌋ for k = 1 … count − 1: count − 1 snapshots spread evenly, the final model being the last. */
    public static long[] evenSnapshotSteps(long total, int count) {
        if (count < 1) {
            throw new IllegalArgumentException("snapshots must be at least 1 (the final model), got " + count);
        }
        return java.util.stream.LongStream.range(1, count).map(k -> k * total / count).filter(s -> s > 0).distinct()
                .toArray();
    }

    /** Where the snapshot after {@code step} goes: {@code folder/step-NNNNNN}. */
    public static Path snapshotDirectory(Path folder, long step) {
        return folder.resolve(String.format("step-%06d", step));
    }

    /** The cumulative sample losses so far, or null when they are not tracked. */
    public SampleLosses sampleLosses() {
        return sampleLosses;
    }

    /** Steps taken so far. */
    public long step() {
        return step;
    }

    public Model model() {
        return model;
    }

    /** Memory plan of the activations, for printing before a run. */
    public String memoryPlan() {
        return activations.memoryPlan();
    }

    /** One optimizer step on the batch the data source gives for the current step. */
    public StepReport trainStep() {
        long start = System.nanoTime();
        double loss = model.forward(activations, data.batch(step, options.batch()));
        if (sampleLosses != null) {
            sampleLosses.add(backend, data.samples(step, options.batch()), activations);
        }
        grads.zero(backend);
        model.backward(activations, grads);
        double norm = Math.sqrt(backend.sumOfSquares(List.copyOf(grads.all().values())));
        if (options.gradientClip() > 0 && norm > options.gradientClip()) {
            double factor = options.gradientClip() / norm;
            for (Tensor g : grads.all().values()) {
                backend.scale(g, g, factor);
            }
        }
        double lr = options.schedule().at(step);
        step++;
        for (String name : model.parameters().names()) {
            Tensor w = model.parameters().get(name);
            double decay = w.rank() >= 2 ? options.weightDecay() : 0.0;
            backend.adamw(w, grads.get(name), firstMoments.get(name), secondMoments.get(name), lr, options.beta1(),
                    options.beta2(), options.epsilon(), decay, step);
        }
        return new StepReport(step, loss, lr, norm, (System.nanoTime() - start) / 1e9);
    }

    /**
     * Trains until {@code options.steps()} steps are done, reporting each step; writes a checkpoint to
     * {@code checkpointDirectory} every {@code checkpointEvery} steps and at the end (null: never).
     */
    public void train(Consumer<StepReport> progress, Path checkpointDirectory, long checkpointEvery)
            throws IOException {
        while (step < options.steps()) {
            StepReport report = trainStep();
            progress.accept(report);
            if (snapshotFolder != null && java.util.Arrays.stream(snapshotSteps).anyMatch(s -> s == step)) {
                AtomicDirectory.replace(snapshotDirectory(snapshotFolder, step), staging -> ModelCheckpoints.save(model,
                        staging, ModelCheckpoints.Layout.single(model.dtype()),
                        Map.of("curvature.step", Long.toString(step))));
            }
            boolean due = checkpointEvery > 0 && step % checkpointEvery == 0;
            if (checkpointDirectory != null && (due || step == options.steps())) {
                saveCheckpoint(checkpointDirectory);
            }
        }
    }

    /**
     * Writes model, optimizer moments and trainer state to {@code directory}, replacing it whole
     * ({@link AtomicDirectory}): an interrupted write leaves the previous checkpoint intact.
     */
    public void saveCheckpoint(Path directory) throws IOException {
        AtomicDirectory.replace(directory, staging -> {
            ModelCheckpoints.save(model, staging, ModelCheckpoints.Layout.single(model.dtype()),
                    Map.of("curvature.step", Long.toString(step)));
            Map<String, Tensor> moments = new LinkedHashMap<>();
            for (String name : model.parameters().names()) {
                moments.put("m." + name, firstMoments.get(name));
                moments.put("v." + name, secondMoments.get(name));
            }
            SafetensorsWriter.write(staging.resolve("optimizer.safetensors"), moments);
            Files.writeString(staging.resolve("trainer.json"),
                    JSON.writeValueAsString(new TrainerState(step, options)));
            if (sampleLosses != null) {
                sampleLosses.write(staging.resolve(SampleLosses.FILE));
            }
        });
    }

    /** Reads a checkpoint's trainer state (step and options). */
    public static TrainerState readState(Path directory) throws IOException {
        Path file = directory.resolve("trainer.json");
        try {
            return JSON.readValue(file.toFile(), TrainerState.class);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new CheckpointFormatException(file, null, "is not a curvature trainer state: " + e.getOriginalMessage());
        }
    }

    /** The trainer state in {@code directory}, or null when it holds none. */
    public static TrainerState readStateOrNull(Path directory) throws IOException {
        return Files.exists(directory.resolve("trainer.json")) ? readState(directory) : null;
    }

    /** The options this trainer runs with. */
    public TrainingOptions options() {
        return options;
    }

    /** Resumes from a checkpoint written by {@link #saveCheckpoint}: model, moments and step. */
    public static Trainer resume(Backend backend, Path directory, BatchSource data, DType dtype) throws IOException {
        TrainerState state = readState(directory);
        Model model = ModelCheckpoints.load(backend, directory, dtype);
        Trainer trainer;
        try {
            trainer = new Trainer(model, data, state.options());
        } catch (RuntimeException e) {
            model.parameters().close();
            throw e;
        }
        Path optimizer = directory.resolve("optimizer.safetensors");
        try (SafetensorsFile moments = SafetensorsFile.open(optimizer)) {
            for (String name : model.parameters().names()) {
                for (String kind : new String[]{"m.", "v."}) {
                    if (!moments.contains(kind + name)) {
                        throw new CheckpointFormatException(optimizer, kind + name, "is missing from the optimizer state");
                    }
                    Tensor target = (kind.equals("m.") ? trainer.firstMoments : trainer.secondMoments).get(name);
                    Tensor stored = moments.tensor(kind + name);
                    if (!stored.sameShape(target)) {
                        throw new CheckpointFormatException(optimizer, kind + name, "has shape "
                                + java.util.Arrays.toString(stored.shape()) + ", the model needs "
                                + java.util.Arrays.toString(target.shape()));
                    }
                    backend.copy(target, stored);
                }
            }
        } catch (IOException | RuntimeException e) {
            trainer.close();
            model.parameters().close();
            throw e;
        }
        trainer.step = state.step();
        Path losses = directory.resolve(SampleLosses.FILE);
        if (Files.exists(losses)) {
            try {
                trainer.sampleLosses = SampleLosses.read(losses, data.sampleCount());
            } catch (IOException | RuntimeException e) {
                trainer.close();
                model.parameters().close();
                throw e;
            }
        }
        return trainer;
    }

    /** Releases the trainer's buffers (gradients, moments, activations); the model's weights stay with the caller. */
    @Override
    public void close() {
        activations.close();
        grads.close();
        firstMoments.close();
        secondMoments.close();
    }
}
