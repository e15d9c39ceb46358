package dev.curvature.transformer.llama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.checkpoint.CheckpointFormatException;
import dev.curvature.transformer.checkpoint.ConfigJson;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The hyper-parameters of a Llama-family model as Hugging Face's {@code config.json} of {@code LlamaForCausalLM}
 * ({@code model_type} "llama") or {@code Olmo2ForCausalLM} ("olmo2") names them. OLMo-2 is Llama with two flags:
 * its norms sit after the attention and the MLP (post-norm, no input norm), and q and k are RMS-normed over their
 * full width before the rotary embedding (QK-norm).
 *
 * @param modelType             "llama" or "olmo2"
 * @param hiddenSize            C, {@code hidden_size}
 * @param intermediateSize      SwiGLU width I, {@code intermediate_size}
 * @param layers                blocks, {@code num_hidden_layers}
 * @param heads                 query heads H, {@code num_attention_heads}
 * @param kvHeads               key/value heads, {@code num_key_value_heads} (grouped-query attention); divides H
 * @param headDim               head size d, {@code head_dim} (default C / H); even
 * @param vocabSize             {@code vocab_size}
 * @param maxPositions          context length, {@code max_position_embeddings}
 * @param rmsNormEps            RMSNorm ε, {@code rms_norm_eps}
 * @param ropeTheta             rotary base, {@code rope_theta}
 * @param ropeScaling           Llama-3-style frequency scaling, or null
 * @param tieWordEmbeddings     whether the LM head is the token embedding, {@code tie_word_embeddings}
 * @param original              the file's JSON, written back unchanged (but for {@code torch_dtype}) with an edit
 */
public record LlamaConfig(String modelType, int hiddenSize, int intermediateSize, int layers, int heads, int kvHeads,
                          int headDim, int vocabSize, int maxPositions, double rmsNormEps, double ropeTheta,
                          RopeScaling ropeScaling, boolean tieWordEmbeddings, ObjectNode original)
        implements ModelConfig {

    /**
     * {@code rope_scaling} of {@code rope_type} "llama3": frequencies whose wavelength exceeds
     * originalMax / lowFreqFactor are divided by {@code factor}, those below originalMax / highFreqFactor are kept,
     * and those between are interpolated (HF's {@code _compute_llama3_parameters}).
     */
    public record RopeScaling(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {
        public RopeScaling {
            if (!(factor > 0) || !(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor) || originalMaxPositions < 1) {
                throw new IllegalArgumentException("rope_scaling needs factor > 0, 0 < low_freq_factor < "
                        + "high_freq_factor and original_max_position_embeddings >= 1, got factor " + factor
                        + ", low " + lowFreqFactor + ", high " + highFreqFactor + ", original " + originalMaxPositions);
            }
        }
    }

    /** Validates sizes and the head layout. */
    public LlamaConfig {
        if (!modelType.equals("llama") && !modelType.equals("olmo2")) {
            throw new IllegalArgumentException("model_type '" + modelType + "' is not a Llama family member "
                    + "(llama, olmo2)");
        }
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("num_hidden_layers", layers);
        positive("num_attention_heads", heads);
        positive("num_key_value_heads", kvHeads);
        positive("head_dim", headDim);
        positive("vocab_size", vocabSize);
        positive("max_position_embeddings", maxPositions);
        ModelConfig.requireAtMost("num_hidden_layers", layers, ModelConfig.MAX_LAYERS);
        ModelConfig.requireAtMost("num_attention_heads", heads, ModelConfig.MAX_HEADS);
        ModelConfig.requireAtMost("hidden_size", hiddenSize, ModelConfig.MAX_WIDTH);
        ModelConfig.requireAtMost("intermediate_size", intermediateSize, ModelConfig.MAX_INNER);
        ModelConfig.requireAtMost("vocab_size", vocabSize, ModelConfig.MAX_VOCABULARY);
        ModelConfig.requireAtMost("max_position_embeddings", maxPositions, ModelConfig.MAX_POSITIONS);
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads " + heads + " is not a multiple of "
                    + "num_key_value_heads " + kvHeads);
        }
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("head_dim " + headDim + " must be even (rotary pairs)");
        }
        if ((long) heads * headDim > Integer.MAX_VALUE / 8 || (long) hiddenSize * 8 > Integer.MAX_VALUE
                || intermediateSize > Integer.MAX_VALUE / 8) {
            throw new IllegalArgumentException("sizes too large: hidden " + hiddenSize + ", heads × head_dim "
                    + (long) heads * headDim + ", intermediate " + intermediateSize);
        }
        if (!(rmsNormEps > 0) || Double.isInfinite(rmsNormEps)) {
            throw new IllegalArgumentException("rms_norm_eps must be positive and finite, got " + rmsNormEps);
        }
        if (!(ropeTheta > 1) || Double.isInfinite(ropeTheta)) {
            throw new IllegalArgumentException("rope_theta must be finite and > 1, got " + ropeTheta);
        }
        original = original == null ? ConfigJson.object() : original.deepCopy();
    }

    /**
     * Equal when every typed field is: the original JSON is kept for writing back, not for identity (a file that says
     * {@code 500000} and one that says {@code 500000.0}, or one with and one without {@code torch_dtype}, describe
     * the same model).
     */
    @Override
    public boolean equals(Object o) {
        return o instanceof LlamaConfig c && c.modelType.equals(modelType) && c.hiddenSize == hiddenSize
                && c.intermediateSize == intermediateSize && c.layers == layers && c.heads == heads
                && c.kvHeads == kvHeads && c.headDim == headDim && c.vocabSize == vocabSize
                && c.maxPositions == maxPositions && Double.compare(c.rmsNormEps, rmsNormEps) == 0
                && Double.compare(c.ropeTheta, ropeTheta) == 0 && java.util.Objects.equals(c.ropeScaling, ropeScaling)
                && c.tieWordEmbeddings == tieWordEmbeddings;
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(modelType, hiddenSize, intermediateSize, layers, heads, kvHeads, headDim,
                vocabSize, maxPositions, rmsNormEps, ropeTheta, ropeScaling, tieWordEmbeddings);
    }

    /** OLMo-2: post-norms after attention and MLP (no input norms) and QK-norm. */
    public boolean isOlmo2() {
        return modelType.equals("olmo2");
    }

    /** A config for a model built here (training, benchmarks), written as HF would. */
    public static LlamaConfig of(String modelType, int hiddenSize, int intermediateSize, int layers, int heads,
                                 int kvHeads, int vocabSize, int maxPositions, boolean tied) {
        LlamaConfig c = new LlamaConfig(modelType, hiddenSize, intermediateSize, layers, heads, kvHeads,
                hiddenSize / heads, vocabSize, maxPositions, modelType.equals("olmo2") ? 1e-6 : 1e-5,
                modelType.equals("olmo2") ? 500000.0 : 10000.0, null, tied, null);
        return c.withOriginal(c.toJsonTree());
    }

    private LlamaConfig withOriginal(ObjectNode json) {
        return new LlamaConfig(modelType, hiddenSize, intermediateSize, layers, heads, kvHeads, headDim, vocabSize,
                maxPositions, rmsNormEps, ropeTheta, ropeScaling, tieWordEmbeddings, json);
    }

    /** Reads {@code config.json} of LlamaForCausalLM or Olmo2ForCausalLM; errors name the file and the field. */
    public static LlamaConfig read(Path configFile) throws IOException {
        ObjectNode root = ConfigJson.read(configFile);
        String type = ConfigJson.stringField(configFile, root, "model_type", null);
        if (type == null) {
            throw new CheckpointFormatException(configFile, null, "model_type is missing");
        }
        String act = ConfigJson.stringField(configFile, root, "hidden_act", "silu");
        if (!act.equals("silu")) {
            throw new CheckpointFormatException(configFile, null, "hidden_act '" + act + "' is not supported: the "
                    + "Llama family's MLP is SwiGLU with silu");
        }
        for (String bias : new String[]{"attention_bias", "mlp_bias"}) {
            if (ConfigJson.booleanField(configFile, root, bias, false)) {
                throw new CheckpointFormatException(configFile, null, bias + " is true: biases are not supported");
            }
        }
        try {
            int hidden = ConfigJson.requiredInt(configFile, root, "hidden_size");
            int heads = ConfigJson.requiredInt(configFile, root, "num_attention_heads");
            JsonNode headDimNode = root.get("head_dim");
            int headDim = headDimNode == null || headDimNode.isNull() ? (heads > 0 ? hidden / heads : 0)
                    : ConfigJson.requiredInt(configFile, root, "head_dim");
            JsonNode kv = root.get("num_key_value_heads");
            int kvHeads = kv == null || kv.isNull() ? heads : ConfigJson.requiredInt(configFile, root,
                    "num_key_value_heads");
            return new LlamaConfig(type, hidden,
                    ConfigJson.requiredInt(configFile, root, "intermediate_size"),
                    ConfigJson.requiredInt(configFile, root, "num_hidden_layers"),
                    heads, kvHeads, headDim,
                    ConfigJson.requiredInt(configFile, root, "vocab_size"),
                    ConfigJson.intField(configFile, root, "max_position_embeddings", 2048),
                    ConfigJson.doubleField(configFile, root, "rms_norm_eps", 1e-6),
                    ConfigJson.doubleField(configFile, root, "rope_theta", 10000.0),
                    ropeScaling(configFile, root.get("rope_scaling")),
                    ConfigJson.booleanField(configFile, root, "tie_word_embeddings", false),
                    root);
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException(configFile, null, e.getMessage(), e);
        }
    }

    private static RopeScaling ropeScaling(Path file, JsonNode node) throws CheckpointFormatException {
        if (node == null || node.isNull()) {
            return null;
        }
        if (!node.isObject()) {
            throw new CheckpointFormatException(file, null, "rope_scaling must be an object or null, found " + node);
        }
        String type = ConfigJson.stringField(file, node, "rope_type", ConfigJson.stringField(file, node, "type", null));
        if ("default".equals(type)) {
            return null;
        }
        if (!"llama3".equals(type)) {
            throw new CheckpointFormatException(file, null, "rope_scaling of rope_type '" + type + "' is not supported"
                    + " (supported: llama3, default)");
        }
        return new RopeScaling(ConfigJson.doubleField(file, node, "factor", 8.0),
                ConfigJson.doubleField(file, node, "low_freq_factor", 1.0),
                ConfigJson.doubleField(file, node, "high_freq_factor", 4.0),
                ConfigJson.intField(file, node, "original_max_position_embeddings", 8192));
    }

    /**
     * The rotary inverse frequencies (d/2): θ^(−2i/d), then the Llama-3 scaling if configured. Position p rotates
     * pair (i, i + d/2) of every head by the angle p · inverseFrequencies[i].
     */
    public double[] inverseFrequencies() {
        double[] inv = new double[headDim / 2];
        for (int i = 0; i < inv.length; i++) {
            double freq = 1.0 / Math.pow(ropeTheta, 2.0 * i / headDim);
            if (ropeScaling != null) {
                RopeScaling s = ropeScaling;
                double wavelength = 2 * Math.PI / freq;
                double lowFreqWavelength = s.originalMaxPositions() / s.lowFreqFactor();
                double highFreqWavelength = s.originalMaxPositions() / s.highFreqFactor();
                if (wavelength > lowFreqWavelength) {
                    freq = freq / s.factor();
                } else if (wavelength >= highFreqWavelength) {
                    double smooth = (s.originalMaxPositions() / wavelength - s.lowFreqFactor())
                            / (s.highFreqFactor() - s.lowFreqFactor());
                    freq = (1 - smooth) * freq / s.factor() + smooth * freq;
                }
            }
            inv[i] = freq;
        }
        return inv;
    }

    @Override
    public int contextLength() {
        return maxPositions;
    }

    /** Query width H·d. */
    @Override
    public int attentionWidth() {
        return heads * headDim;
    }

    /** Key/value width H_kv·d. */
    public int keyWidth() {
        return kvHeads * headDim;
    }

    /** HF name of block l's tensor {@code suffix}, e.g. "model.layers.3.mlp.gate_proj.weight". */
    public static String block(int l, String suffix) {
        return "model.layers." + l + "." + suffix;
    }

    /** HF names and (d_out, d_in) shapes, in the order HF's state dict lists them. */
    @Override
    public Map<String, long[]> parameterShapes() {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        long c = hiddenSize;
        long q = attentionWidth();
        long k = keyWidth();
        long inner = intermediateSize;
        shapes.put("model.embed_tokens.weight", new long[]{vocabSize, c});
        for (int l = 0; l < layers; l++) {
            shapes.put(block(l, "self_attn.q_proj.weight"), new long[]{q, c});
            shapes.put(block(l, "self_attn.k_proj.weight"), new long[]{k, c});
            shapes.put(block(l, "self_attn.v_proj.weight"), new long[]{k, c});
            shapes.put(block(l, "self_attn.o_proj.weight"), new long[]{c, q});
            if (isOlmo2()) {
                shapes.put(block(l, "self_attn.q_norm.weight"), new long[]{q});
                shapes.put(block(l, "self_attn.k_norm.weight"), new long[]{k});
            }
            shapes.put(block(l, "mlp.gate_proj.weight"), new long[]{inner, c});
            shapes.put(block(l, "mlp.up_proj.weight"), new long[]{inner, c});
            shapes.put(block(l, "mlp.down_proj.weight"), new long[]{c, inner});
            if (isOlmo2()) {
                shapes.put(block(l, "post_attention_layernorm.weight"), new long[]{c});
                shapes.put(block(l, "post_feedforward_layernorm.weight"), new long[]{c});
            } else {
                shapes.put(block(l, "input_layernorm.weight"), new long[]{c});
                shapes.put(block(l, "post_attention_layernorm.weight"), new long[]{c});
            }
        }
        shapes.put("model.norm.weight", new long[]{c});
        if (!tieWordEmbeddings) {
            shapes.put("lm_head.weight", new long[]{vocabSize, c});
        }
        return shapes;
    }

    /**
     * Per block: q_proj, k_proj, v_proj (one input: k and v share q's A), o_proj, gate_proj, up_proj (sharing gate's
     * input, so its A), down_proj.
     */
    @Override
    public List<LinearLayer> linearLayers() {
        List<LinearLayer> out = new ArrayList<>();
        int q = attentionWidth();
        int k = keyWidth();
        for (int l = 0; l < layers; l++) {
            String attn = "model.layers." + l + ".self_attn.";
            String mlp = "model.layers." + l + ".mlp.";
            out.add(new LinearLayer(attn + "q_proj", l, LinearRole.ATTN_QKV, hiddenSize, q));
            out.add(new LinearLayer(attn + "k_proj", l, LinearRole.ATTN_QKV, hiddenSize, k, attn + "q_proj"));
            out.add(new LinearLayer(attn + "v_proj", l, LinearRole.ATTN_QKV, hiddenSize, k, attn + "q_proj"));
            out.add(new LinearLayer(attn + "o_proj", l, LinearRole.ATTN_OUT, q, hiddenSize));
            out.add(new LinearLayer(mlp + "gate_proj", l, LinearRole.MLP_GATE, hiddenSize, intermediateSize));
            out.add(new LinearLayer(mlp + "up_proj", l, LinearRole.MLP_IN, hiddenSize, intermediateSize,
                    mlp + "gate_proj"));
            out.add(new LinearLayer(mlp + "down_proj", l, LinearRole.MLP_OUT, intermediateSize, hiddenSize));
        }
        return out;
    }

    /**
     * {@code LlamaActivations}' buffers by formula, N = B·T, Q = H·d, K = H_kv·d: the decoder's common ones (ids and
     * targets (N) I32; L+1 residuals, final norm, d.residual, d.final_norm (N, C); logits (N, V); losses,
     * log-sum-exp (N); the longest vector parameter), the rotary tables 2·P·d/2, per block B·H·T² (softmax) +
     * 3·N·I (gate, up, hidden) + 3·N·C and then Llama: 2·N (norm rstds) + 2·N·Q + 2·N·K (q, k = projections, v,
     * attn.y); OLMo-2: 4·N + 3·N·Q + 3·N·K (QK-norm keeps projections and normed q, k apart); then model.norm rstd
     * N and the backward scratch 2·N·C + B·H·T² + 3·N·I + (Llama 2, OLMo-2 3)·(N·Q + N·K).
     */
    @Override
    public long workspaceBytes(int batch, int time, DType dtype) {
        long n = (long) batch * time;
        long c = hiddenSize;
        long q = attentionWidth();
        long k = keyWidth();
        long inner = intermediateSize;
        long att = (long) batch * heads * time * time;
        long rope = 2L * maxPositions * (headDim / 2);
        long qk = isOlmo2() ? 3 : 2;
        long perBlock = att + 3 * n * inner + 3 * n * c + (isOlmo2() ? 4 : 2) * n + qk * n * (q + k);
        long tail = n + 2 * n * c + att + 3 * n * inner + qk * n * (q + k);
        return DecoderWorkspace.commonBytes(this, batch, time, dtype)
                + (rope + layers * perBlock + tail) * dtype.byteSize();
    }

    @Override
    public Model model(Backend backend, ParameterSet weights) {
        return new LlamaModel(backend, weights);
    }

    private static final Pattern EXPORTED_BUFFER =
            Pattern.compile("model\\.layers\\.(\\d+)\\.self_attn\\.rotary_emb\\.inv_freq");

    /** Cached rotary frequencies {@code rotary_emb.inv_freq} of a block, and with tied embeddings the head's copy. */
    @Override
    public boolean isExportedBuffer(String name) {
        Matcher m = EXPORTED_BUFFER.matcher(name);
        return m.matches() && m.group(1).length() < 6 && Integer.parseInt(m.group(1)) < layers
                || name.equals("lm_head.weight") && tieWordEmbeddings;
    }

    /** The JSON this config writes: the file it was read from with the values here put back. */
    public ObjectNode toJsonTree() {
        ObjectNode node = original.deepCopy();
        node.putArray("architectures").add(isOlmo2() ? "Olmo2ForCausalLM" : "LlamaForCausalLM");
        node.put("model_type", modelType);
        node.put("hidden_size", hiddenSize);
        node.put("intermediate_size", intermediateSize);
        node.put("num_hidden_layers", layers);
        node.put("num_attention_heads", heads);
        node.put("num_key_value_heads", kvHeads);
        node.put("head_dim", headDim);
        node.put("vocab_size", vocabSize);
        node.put("max_position_embeddings", maxPositions);
        node.put("rms_norm_eps", rmsNormEps);
        node.put("rope_theta", ropeTheta);
        node.put("tie_word_embeddings", tieWordEmbeddings);
        node.put("hidden_act", "silu");
        node.put("attention_bias", false);
        node.put("mlp_bias", false);
        if (ropeScaling == null) {
            if (!node.has("rope_scaling")) {
                node.putNull("rope_scaling");
            }
        } else {
            ObjectNode s = node.putObject("rope_scaling");
            s.put("factor", ropeScaling.factor());
            s.put("high_freq_factor", ropeScaling.highFreqFactor());
            s.put("low_freq_factor", ropeScaling.lowFreqFactor());
            s.put("original_max_position_embeddings", ropeScaling.originalMaxPositions());
            s.put("rope_type", "llama3");
        }
        return node;
    }

    @Override
    public void write(Path configFile) throws IOException {
        ConfigJson.write(configFile, ConfigJson.toJson(toJsonTree()));
    }

    /** Writes the config with {@code torch_dtype} saying what the weights are stored in ("bfloat16", ...). */
    @Override
    public void write(Path configFile, DType storage) throws IOException {
        ObjectNode node = toJsonTree();
        node.put("torch_dtype", ModelCheckpoints.torchDtype(storage));
        ConfigJson.write(configFile, ConfigJson.toJson(node));
    }

    private static void positive(String field, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(field + " must be positive, got " + value);
        }
    }
}
