package dev.curvature.transformer.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.model.DecoderWorkspace;
import dev.curvature.transformer.model.LinearLayer;
import dev.curvature.transformer.model.LinearRole;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.ModelConfig;
import dev.curvature.transformer.model.ParameterSet;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The hyper-parameters of a GPT-2 model as Hugging Face's {@code config.json} names them.
 *
 * <p>{@code n_inner} is the MLP width (HF: null means 4·n_embd). The only activation curvature implements is the
 * tanh approximation of GELU, which HF calls {@code "gelu_new"} (GPT-2's own) or {@code "gelu_pytorch_tanh"};
 * the name read is kept so that a written config says what the original said. Other HF fields (dropouts,
 * {@code scale_attn_*}, token ids) are ignored on reading and not written.
 *
 * @param nLayer             transformer blocks, {@code n_layer}
 * @param nHead              attention heads, {@code n_head}; divides nEmbd
 * @param nEmbd              model width C, {@code n_embd}
 * @param vocabSize          vocabulary size, {@code vocab_size}
 * @param nPositions         context length (learned positions), {@code n_positions}
 * @param nInner             MLP hidden width, {@code n_inner} (4·C when the file says null)
 * @param layerNormEpsilon   LayerNorm ε, {@code layer_norm_epsilon}
 * @param activationFunction {@code activation_function}: "gelu_new" or "gelu_pytorch_tanh"
 */
public record Gpt2Config(int nLayer, int nHead, int nEmbd, int vocabSize, int nPositions, int nInner,
                         double layerNormEpsilon, String activationFunction) implements ModelConfig {
    /** HF's names for the tanh-approximated GELU, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
    public static final Set<String> TANH_GELU_NAMES = Set.of("gelu_new", "gelu_pytorch_tanh");

    // HF GPT2Config's defaults, used for fields a config.json leaves out (as transformers does)
    private static final int DEFAULT_N_LAYER = 12;
    private static final int DEFAULT_N_HEAD = 12;
    private static final int DEFAULT_N_EMBD = 768;
    private static final int DEFAULT_VOCAB_SIZE = 50257;
    private static final int DEFAULT_N_POSITIONS = 1024;
    private static final double DEFAULT_EPSILON = 1e-5;
    private static final String DEFAULT_ACTIVATION = "gelu_new";

    /** Validates the sizes and the activation. */
    public Gpt2Config {
        requirePositive("n_layer", nLayer);
        requirePositive("n_head", nHead);
        requirePositive("n_embd", nEmbd);
        requirePositive("vocab_size", vocabSize);
        requirePositive("n_positions", nPositions);
        requirePositive("n_inner", nInner);
        ModelConfig.requireAtMost("n_layer", nLayer, ModelConfig.MAX_LAYERS);
        ModelConfig.requireAtMost("n_head", nHead, ModelConfig.MAX_HEADS);
        ModelConfig.requireAtMost("n_embd", nEmbd, ModelConfig.MAX_WIDTH);
        ModelConfig.requireAtMost("n_inner", nInner, ModelConfig.MAX_INNER);
        ModelConfig.requireAtMost("vocab_size", vocabSize, ModelConfig.MAX_VOCABULARY);
        ModelConfig.requireAtMost("n_positions", nPositions, ModelConfig.MAX_POSITIONS);
        if (nEmbd % nHead != 0) {
            throw new IllegalArgumentException("n_embd " + nEmbd + " is not divisible by n_head " + nHead);
        }
        if (nEmbd > Integer.MAX_VALUE / 4) {
            throw new IllegalArgumentException("n_embd " + nEmbd + " is too large (4·n_embd must fit in an int)");
        }
        if (!(layerNormEpsilon > 0) || Double.isInfinite(layerNormEpsilon)) {
            throw new IllegalArgumentException("layer_norm_epsilon must be positive and finite, got " + layerNormEpsilon);
        }
        if (activationFunction == null || !TANH_GELU_NAMES.contains(activationFunction)) {
            throw new IllegalArgumentException("activation_function "
                    + (activationFunction == null ? "null" : "'" + activationFunction + "'")
                    + " is not supported: curvature implements the tanh GELU, which HF calls 'gelu_new' or "
                    + "'gelu_pytorch_tanh'" + ("gelu".equals(activationFunction) ? " ('gelu' is the exact erf form)" : ""));
        }
    }

    @Override
    public String modelType() {
        return "gpt2";
    }

    @Override
    public int contextLength() {
        return nPositions;
    }

    @Override
    public int layers() {
        return nLayer;
    }

    @Override
    public int hiddenSize() {
        return nEmbd;
    }

    @Override
    public int attentionWidth() {
        return nEmbd;
    }

    /**
     * The checkpoint catalogue's shapes, with the {@code Conv1D} weights it stores (d_in, d_out) turned to
     * (d_out, d_in).
     */
    @Override
    public Map<String, long[]> parameterShapes() {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (Gpt2TensorCatalogue.ExpectedTensor t : Gpt2TensorCatalogue.expectedTensors(this)) {
            long[] shape = t.shape();
            shapes.put(t.name(), Gpt2TensorCatalogue.storedTransposed(t.name()) ? new long[]{shape[1], shape[0]} : shape);
        }
        return shapes;
    }

    /** Per block: attn.c_attn (packed q|k|v), attn.c_proj, mlp.c_fc, mlp.c_proj. */
    @Override
    public List<LinearLayer> linearLayers() {
        List<LinearLayer> layers = new ArrayList<>();
        for (int l = 0; l < nLayer; l++) {
            String h = "h." + l + ".";
            layers.add(new LinearLayer(h + "attn.c_attn", l, LinearRole.ATTN_QKV, nEmbd, 3 * nEmbd));
            layers.add(new LinearLayer(h + "attn.c_proj", l, LinearRole.ATTN_OUT, nEmbd, nEmbd));
            layers.add(new LinearLayer(h + "mlp.c_fc", l, LinearRole.MLP_IN, nEmbd, nInner));
            layers.add(new LinearLayer(h + "mlp.c_proj", l, LinearRole.MLP_OUT, nInner, nEmbd));
        }
        return layers;
    }

    /**
     * {@code Gpt2Activations}' buffers by formula, N = B·T: the decoder's common ones (ids and targets (N) I32;
     * L+1 residuals, final norm, d.residual, d.final_norm (N, C); logits (N, V); losses, log-sum-exp (N); the
     * longest vector parameter), per block 7·N·C (ln_1, qkv 3C, attn.y, mid, ln_2) + 4·N (means, rstds) + 2·N·F
     * (fc, gelu) + B·H·T² (softmax), then ln_f mean/rstd 2·N and the backward scratch 5·N·C + 2·N·F + B·H·T².
     */
    @Override
    public long workspaceBytes(int batch, int time, DType dtype) {
        long n = (long) batch * time;
        long c = nEmbd;
        long f = nInner;
        long att = (long) batch * nHead * time * time;
        long perBlock = 7 * n * c + 4 * n + 2 * n * f + att;
        long tail = 2 * n + 5 * n * c + 2 * n * f + att;
        return DecoderWorkspace.commonBytes(this, batch, time, dtype) + (nLayer * perBlock + tail) * dtype.byteSize();
    }

    @Override
    public Model model(Backend backend, ParameterSet weights) {
        return new Gpt2Model(backend, weights);
    }

    /** HF's {@code Conv1D} weights (c_attn, c_proj, c_fc) are stored (d_in, d_out). */
    @Override
    public boolean storedTransposed(String name) {
        return Gpt2TensorCatalogue.storedTransposed(name);
    }

    private static final Pattern EXPORTED_BUFFER =
            Pattern.compile("(?:transformer\\.)?h\\.(\\d+)\\.attn\\.(?:bias|masked_bias)");

    /** The causal-mask buffers {@code h.{i}.attn.bias} / {@code masked_bias} of a block, and the tied head's copy. */
    @Override
    public boolean isExportedBuffer(String name) {
        Matcher m = EXPORTED_BUFFER.matcher(name);
        return name.equals("lm_head.weight") || m.matches() && m.group(1).length() < 6
                && Integer.parseInt(m.group(1)) < nLayer;
    }

    /** A config with HF's defaults for the rest: n_inner = 4·n_embd, ε = 1e-5, "gelu_new". */
    public static Gpt2Config of(int nLayer, int nHead, int nEmbd, int vocabSize, int nPositions) {
        return new Gpt2Config(nLayer, nHead, nEmbd, vocabSize, nPositions, defaultInner(nEmbd), DEFAULT_EPSILON,
                DEFAULT_ACTIVATION);
    }

    /** Width of one attention head, n_embd / n_head. */
    public int headSize() {
        return nEmbd / nHead;
    }

    /**
     * Reads a HF GPT-2 {@code config.json}. Absent fields take HF's defaults; fields of the wrong type, invalid
     * values and unsupported activations are errors naming the file and the field.
     */
    public static Gpt2Config read(Path configFile) throws IOException {
        JsonNode root = ConfigJson.read(configFile);   // a missing or unreadable file is a plain IOException
        JsonNode modelType = root.get("model_type");
        if (modelType != null && modelType.isTextual() && !modelType.textValue().equals("gpt2")) {
            throw new CheckpointFormatException(configFile, null, "model_type is '" + modelType.textValue()
                    + "', not 'gpt2'");
        }
        int nEmbd = intField(configFile, root, "n_embd", DEFAULT_N_EMBD);
        JsonNode inner = root.get("n_inner");
        int nInner = inner == null || inner.isNull() ? defaultInner(nEmbd)
                : intField(configFile, root, "n_inner", 0);
        try {
            return new Gpt2Config(
                    intField(configFile, root, "n_layer", DEFAULT_N_LAYER),
                    intField(configFile, root, "n_head", DEFAULT_N_HEAD),
                    nEmbd,
                    intField(configFile, root, "vocab_size", DEFAULT_VOCAB_SIZE),
                    intField(configFile, root, "n_positions", DEFAULT_N_POSITIONS),
                    nInner,
                    doubleField(configFile, root, "layer_norm_epsilon", DEFAULT_EPSILON),
                    stringField(configFile, root, "activation_function", DEFAULT_ACTIVATION));
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException(configFile, null, e.getMessage(), e);
        }
    }

    /**
     * HF-style JSON (two-space indent, keys sorted as transformers writes them, {@code "model_type": "gpt2"};
     * {@code n_inner} null when it is the default 4·n_embd).
     */
    public String toJson() {
        ObjectNode node = ConfigJson.object();
        node.put("activation_function", activationFunction);
        node.put("layer_norm_epsilon", layerNormEpsilon);
        node.put("model_type", "gpt2");
        node.put("n_embd", nEmbd);
        node.put("n_head", nHead);
        if (nInner == defaultInner(nEmbd)) {
            node.putNull("n_inner");
        } else {
            node.put("n_inner", nInner);
        }
        node.put("n_layer", nLayer);
        node.put("n_positions", nPositions);
        node.put("vocab_size", vocabSize);
        return ConfigJson.toJson(node);
    }

    /** Writes {@link #toJson()} to {@code configFile}, replacing it atomically. */
    @Override
    public void write(Path configFile) throws IOException {
        ConfigJson.write(configFile, toJson());
    }

    /** 4·n_embd, HF's MLP width when n_inner is null; an out-of-range n_embd is left for the constructor to refuse. */
    private static int defaultInner(int nEmbd) {
        return nEmbd > 0 && nEmbd <= Integer.MAX_VALUE / 4 ? 4 * nEmbd : 1;
    }

    private static void requirePositive(String field, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(field + " must be positive, got " + value);
        }
    }

    private static int intField(Path file, JsonNode root, String field, int absent) throws CheckpointFormatException {
        return ConfigJson.intField(file, root, field, absent);
    }

    private static double doubleField(Path file, JsonNode root, String field, double absent)
            throws CheckpointFormatException {
        return ConfigJson.doubleField(file, root, field, absent);
    }

    private static String stringField(Path file, JsonNode root, String field, String absent)
            throws CheckpointFormatException {
        return ConfigJson.stringField(file, root, field, absent);
    }
}
