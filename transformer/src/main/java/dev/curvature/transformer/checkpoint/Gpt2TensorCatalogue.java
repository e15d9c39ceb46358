package dev.curvature.transformer.checkpoint;

import dev.curvature.engine.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The tensors of a Hugging Face GPT-2 checkpoint and their shapes as stored, for a given {@link Gpt2Config}
 * (C = n_embd, V = vocab_size, P = n_positions, I = n_inner, normally 4C):
 * <pre>
 *   wte.weight                (V, C)      wpe.weight               (P, C)
 *   h.{i}.ln_1.weight, .bias  (C)         h.{i}.ln_2.weight, .bias (C)
 *   h.{i}.attn.c_attn.weight  (C, 3C)     h.{i}.attn.c_attn.bias   (3C)
 *   h.{i}.attn.c_proj.weight  (C, C)      h.{i}.attn.c_proj.bias   (C)
 *   h.{i}.mlp.c_fc.weight     (C, I)      h.{i}.mlp.c_fc.bias      (I)
 *   h.{i}.mlp.c_proj.weight   (I, C)      h.{i}.mlp.c_proj.bias    (C)
 *   ln_f.weight, ln_f.bias    (C)
 * </pre>
 * HF's {@code Conv1D} stores its weight as (in, out), the transpose of {@code nn.Linear}; these are the shapes on
 * disk, and the model transposes at load time. {@code GPT2LMHeadModel} checkpoints prefix every name with
 * {@code transformer.}; {@code GPT2Model} checkpoints do not; both are accepted. Other tensors a checkpoint may
 * hold (the causal-mask buffers {@code h.{i}.attn.bias} / {@code masked_bias} of old exports, a tied
 * {@code lm_head.weight}) are not part of the catalogue and are ignored by {@link #resolve}.
 */
public final class Gpt2TensorCatalogue {
    /** The prefix {@code GPT2LMHeadModel} puts before every name of the catalogue. */
    public static final String PREFIX = "transformer.";

    private Gpt2TensorCatalogue() {
    }

    /** One catalogue entry: the canonical (unprefixed) HF name and the shape stored on disk. */
    public record ExpectedTensor(String name, long[] shape) {
        public ExpectedTensor {
            Objects.requireNonNull(name);
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        public long elementCount() {
            return Tensor.elementCount(shape);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof ExpectedTensor e && name.equals(e.name) && Arrays.equals(shape, e.shape);
        }

        @Override
        public int hashCode() {
            return 31 * name.hashCode() + Arrays.hashCode(shape);
        }

        @Override
        public String toString() {
            return name + " " + Arrays.toString(shape);
        }
    }

    /** Every tensor of the model, in HF's order: wte, wpe, blocks 0..n_layer-1, ln_f. */
    public static List<ExpectedTensor> expectedTensors(Gpt2Config config) {
        long c = config.nEmbd();
        long inner = config.nInner();
        List<ExpectedTensor> out = new ArrayList<>(4 + 12 * config.nLayer());
        out.add(new ExpectedTensor("wte.weight", new long[]{config.vocabSize(), c}));
        out.add(new ExpectedTensor("wpe.weight", new long[]{config.nPositions(), c}));
        for (int i = 0; i < config.nLayer(); i++) {
            String h = "h." + i + ".";
            out.add(new ExpectedTensor(h + "ln_1.weight", new long[]{c}));
            out.add(new ExpectedTensor(h + "ln_1.bias", new long[]{c}));
            out.add(new ExpectedTensor(h + "attn.c_attn.weight", new long[]{c, 3 * c}));
            out.add(new ExpectedTensor(h + "attn.c_attn.bias", new long[]{3 * c}));
            out.add(new ExpectedTensor(h + "attn.c_proj.weight", new long[]{c, c}));
            out.add(new ExpectedTensor(h + "attn.c_proj.bias", new long[]{c}));
            out.add(new ExpectedTensor(h + "ln_2.weight", new long[]{c}));
            out.add(new ExpectedTensor(h + "ln_2.bias", new long[]{c}));
            out.add(new ExpectedTensor(h + "mlp.c_fc.weight", new long[]{c, inner}));
            out.add(new ExpectedTensor(h + "mlp.c_fc.bias", new long[]{inner}));
            out.add(new ExpectedTensor(h + "mlp.c_proj.weight", new long[]{inner, c}));
            out.add(new ExpectedTensor(h + "mlp.c_proj.bias", new long[]{c}));
        }
        out.add(new ExpectedTensor("ln_f.weight", new long[]{c}));
        out.add(new ExpectedTensor("ln_f.bias", new long[]{c}));
        return out;
    }

    /** Parameters of the model (the sum over the catalogue; lm_head is tied to wte and not counted twice). */
    public static long parameterCount(Gpt2Config config) {
        long n = 0;
        for (ExpectedTensor t : expectedTensors(config)) {
            n += t.elementCount();
        }
        return n;
    }

    /** {@code name} without the {@code transformer.} prefix, if it has one. */
    public static String canonicalName(String storedName) {
        return storedName.startsWith(PREFIX) ? storedName.substring(PREFIX.length()) : storedName;
    }

    /**
     * Finds every catalogue tensor in {@code checkpoint} (with or without the prefix) and checks its shape.
     *
     * @return canonical name → the stored tensor's info (its actual name, dtype, file), in catalogue order
     * @throws CheckpointFormatException naming the checkpoint file and the tensor when a tensor is missing, present
     *                                   under both names, or stored with a shape that disagrees with the config
     *                                   (the message gives expected and actual shapes)
     */
    public static Map<String, TensorInfo> resolve(Checkpoint checkpoint, Gpt2Config config)
            throws CheckpointFormatException {
        Map<String, TensorInfo> found = new LinkedHashMap<>();
        for (ExpectedTensor expected : expectedTensors(config)) {
            String bare = expected.name();
            String prefixed = PREFIX + bare;
            boolean hasBare = checkpoint.contains(bare);
            boolean hasPrefixed = checkpoint.contains(prefixed);
            if (hasBare && hasPrefixed) {
                throw new CheckpointFormatException(checkpoint.path(), bare, "is stored both as '" + bare + "' and as '"
                        + prefixed + "'; which one the model should load is ambiguous");
            }
            if (!hasBare && !hasPrefixed) {
                throw new CheckpointFormatException(checkpoint.path(), bare, "is missing (looked for '" + bare
                        + "' and '" + prefixed + "'); the GPT-2 config " + describe(config) + " expects shape "
                        + Arrays.toString(expected.shape()));
            }
            TensorInfo info = checkpoint.info(hasBare ? bare : prefixed);
            if (!Arrays.equals(info.shape(), expected.shape())) {
                throw new CheckpointFormatException(info.file(), info.name(), "shape disagrees with the GPT-2 config "
                        + describe(config) + ": expected " + Arrays.toString(expected.shape()) + ", found "
                        + Arrays.toString(info.shape()) + (storedTransposed(bare)
                        ? " (HF Conv1D weights are stored (in, out))" : ""));
            }
            found.put(bare, info);
        }
        return Collections.unmodifiableMap(found);
    }

    /** The linear layers of block i whose HF {@code Conv1D} weights are stored (d_in, d_out) on disk. */
    private static final List<String> CONV1D_LAYERS = List.of("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj");

    /**
     * Whether the checkpoint stores this (canonical) weight transposed, as (d_in, d_out): GPT-2's {@code Conv1D}
     * layers; the maths layout is (d_out, d_in).
     */
    public static boolean storedTransposed(String name) {
        if (!name.startsWith("h.") || !name.endsWith(".weight")) {
            return false;
        }
        String layer = name.substring(name.indexOf('.', 2) + 1, name.length() - ".weight".length());
        return CONV1D_LAYERS.contains(layer);
    }

    private static String describe(Gpt2Config c) {
        return "(n_layer=" + c.nLayer() + ", n_embd=" + c.nEmbd() + ", n_inner=" + c.nInner() + ", vocab_size="
                + c.vocabSize() + ", n_positions=" + c.nPositions() + ")";
    }
}
