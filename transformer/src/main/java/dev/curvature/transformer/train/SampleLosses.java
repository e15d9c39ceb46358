package dev.curvature.transformer.train;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.CheckpointFormatException;
import dev.curvature.transformer.checkpoint.SafetensorsFile;
import dev.curvature.transformer.checkpoint.SafetensorsWriter;
import dev.curvature.transformer.model.Workspace;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The cumulative sample loss (CSL, Ravikumar et al.): for every training sample, the sum of its own loss at every
 * optimizer step that trained on it, read off the forward pass the step makes anyway (free during training). A
 * sample's loss is the mean cross-entropy over its scored positions — an image's one loss, a window's per-token mean.
 * Sums are float64 and added in step order, so a resumed run continues them exactly.
 */
public final class SampleLosses {
    /** File name inside a trainer checkpoint. */
    public static final String FILE = "sample-losses.safetensors";

    private final double[] cumulative;
    private final double[] steps;

    public SampleLosses(int samples) {
        if (samples < 1) {
            throw new IllegalArgumentException("sample losses need at least one sample, got " + samples);
        }
        this.cumulative = new double[samples];
        this.steps = new double[samples];
    }

    /** Samples tracked. */
    public int size() {
        return cumulative.length;
    }

    /** CSL (N): the sum of each sample's loss over the steps that trained on it. */
    public double[] cumulative() {
        return cumulative.clone();
    }

    /** Optimizer steps that trained on each sample (N). */
    public double[] steps() {
        return steps.clone();
    }

    /**
     * Adds the per-sample losses of the batch a forward pass just scored: {@code samples} (B) are the rows' sample
     * indices, the workspace's per-position losses (B·T) and targets (B·T, −1 = not scored) give each row's mean.
     */
    public void add(Backend backend, int[] samples, Workspace ws) {
        add(samples, ws.losses().toDoubleArray(), backend.readInts(ws.targets()));
    }

    /** {@link #add(Backend, int[], Workspace)} on host arrays: losses and targets (B·T) for B = samples.length rows. */
    void add(int[] samples, double[] losses, int[] targets) {
        if (losses.length != targets.length || losses.length % samples.length != 0) {
            throw new IllegalArgumentException(losses.length + " losses and " + targets.length + " targets for "
                    + samples.length + " samples");
        }
        int rows = losses.length / samples.length;
        for (int b = 0; b < samples.length; b++) {
            double sum = 0;
            int scored = 0;
            for (int t = b * rows; t < (b + 1) * rows; t++) {
                if (targets[t] >= 0) {
                    sum += losses[t];
                    scored++;
                }
            }
            if (scored > 0) {
                int i = samples[b];
                cumulative[i] += sum / scored;
                steps[i] += 1;
            }
        }
    }

    /** Writes {@code cumulative} and {@code steps} (F64, N) to a safetensors file. */
    public void write(Path file) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("cumulative", Tensor.of(arena, DType.F64, cumulative, cumulative.length));
            tensors.put("steps", Tensor.of(arena, DType.F64, steps, steps.length));
            SafetensorsWriter.write(file, tensors);
        }
    }

    /** Reads what {@link #write} wrote; the file must hold {@code samples} samples. */
    public static SampleLosses read(Path file, int samples) throws IOException {
        SampleLosses out = new SampleLosses(samples);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (String name : new String[]{"cumulative", "steps"}) {
                if (!f.contains(name)) {
                    throw new CheckpointFormatException(file, name, "is missing from the sample losses");
                }
                Tensor t = f.tensor(name);
                if (t.rank() != 1 || t.dim(0) != samples) {
                    throw new CheckpointFormatException(file, name, "has shape " + java.util.Arrays.toString(t.shape())
                            + ", the training data has " + samples + " samples");
                }
                double[] values = t.toDoubleArray();
                System.arraycopy(values, 0, name.equals("cumulative") ? out.cumulative : out.steps, 0, samples);
            }
        }
        return out;
    }
}
