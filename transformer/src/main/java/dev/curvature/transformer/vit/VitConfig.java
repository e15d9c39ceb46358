package dev.curvature.transformer.vit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.checkpoint.CheckpointFormatException;
import dev.curvature.transformer.checkpoint.ConfigJson;
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

/**
 * A vision transformer as Hugging Face's {@code config.json} of {@code ViTForImageClassification} names it: square
 * images of {@code imageSize}² pixels in {@code channels} channels cut into (imageSize / patchSize)² patches, a CLS
 * token, learned positions, pre-LayerNorm blocks with bidirectional attention (q, k, v with biases) and a GELU MLP,
 * a final LayerNorm and a linear classifier on the CLS token. Sequences hold T = 1 + patches tokens.
 *
 * @param hiddenSize       C, {@code hidden_size}
 * @param layers           blocks, {@code num_hidden_layers}
 * @param heads            attention heads, {@code num_attention_heads}; divides C
 * @param intermediateSize MLP width, {@code intermediate_size}
 * @param imageSize        image side in pixels, {@code image_size}
 * @param patchSize        patch side, {@code patch_size}; divides imageSize
 * @param channels         {@code num_channels}
 * @param numLabels        classes ({@code id2label}'s size)
 * @param layerNormEps     {@code layer_norm_eps}
 * @param hiddenAct        {@code hidden_act}: the tanh GELU ("gelu_pytorch_tanh" or "gelu_new")
 */
public record VitConfig(int hiddenSize, int layers, int heads, int intermediateSize, int imageSize, int patchSize,
                        int channels, int numLabels, double layerNormEps, String hiddenAct) implements ModelConfig {
    /** The activations implemented: the tanh approximation of GELU. HF ViT's default "gelu" is the erf form. */
    public static final Set<String> TANH_GELU_NAMES = Set.of("gelu_pytorch_tanh", "gelu_new");

    public VitConfig {
        positive("hidden_size", hiddenSize);
        positive("num_hidden_layers", layers);
        positive("num_attention_heads", heads);
        positive("intermediate_size", intermediateSize);
        positive("image_size", imageSize);
        positive("patch_size", patchSize);
        positive("num_channels", channels);
        if (numLabels < 2) {
            throw new IllegalArgumentException("an image classifier needs at least 2 labels, got " + numLabels);
        }
        if (hiddenSize % heads != 0) {
            throw new IllegalArgumentException("hidden_size " + hiddenSize + " is not divisible by num_attention_heads "
                    + heads);
        }
        if (imageSize % patchSize != 0) {
            throw new IllegalArgumentException("image_size " + imageSize + " is not a multiple of patch_size "
                    + patchSize);
        }
        if ((long) imageSize * imageSize * channels > 1 << 24 || (long) hiddenSize * 8 > Integer.MAX_VALUE
                || intermediateSize > Integer.MAX_VALUE / 8) {
            throw new IllegalArgumentException("sizes too large: image " + imageSize + "² × " + channels + ", hidden "
                    + hiddenSize + ", intermediate " + intermediateSize);
        }
        if (!(layerNormEps > 0) || Double.isInfinite(layerNormEps)) {
            throw new IllegalArgumentException("layer_norm_eps must be positive and finite, got " + layerNormEps);
        }
        if (hiddenAct == null || !TANH_GELU_NAMES.contains(hiddenAct)) {
            throw new IllegalArgumentException("hidden_act " + (hiddenAct == null ? "null" : "'" + hiddenAct + "'")
                    + " is not supported: curvature implements the tanh GELU ('gelu_pytorch_tanh', 'gelu_new')"
                    + ("gelu".equals(hiddenAct) ? "; 'gelu' is the exact erf form" : ""));
        }
    }

    /** A classifier of this shape with LayerNorm ε 1e-12 and the tanh GELU. */
    public static VitConfig of(int hiddenSize, int layers, int heads, int intermediateSize, int imageSize,
                               int patchSize, int channels, int numLabels) {
        return new VitConfig(hiddenSize, layers, heads, intermediateSize, imageSize, patchSize, channels, numLabels,
                1e-12, "gelu_pytorch_tanh");
    }

    /** Patches per image, (imageSize / patchSize)². */
    public int patches() {
        int side = imageSize / patchSize;
        return side * side;
    }

    /** Values per patch, channels · patchSize². */
    public int patchValues() {
        return channels * patchSize * patchSize;
    }

    /** Values per image, channels · imageSize². */
    public int imageValues() {
        return channels * imageSize * imageSize;
    }

    @Override
    public String modelType() {
        return "vit";
    }

    /** Tokens per image: the CLS token and the patches. */
    @Override
    public int contextLength() {
        return 1 + patches();
    }

    /** Outputs per image: the classes. */
    @Override
    public int vocabSize() {
        return numLabels;
    }

    @Override
    public int attentionWidth() {
        return hiddenSize;
    }

    /** HF name of block l's tensor {@code suffix}, e.g. "vit.encoder.layer.0.intermediate.dense.weight". */
    public static String block(int l, String suffix) {
        return "vit.encoder.layer." + l + "." + suffix;
    }

    /** HF names and shapes (linear weights (d_out, d_in); the patch projection as HF's Conv2d (C, ch, p, p)). */
    @Override
    public Map<String, long[]> parameterShapes() {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        long c = hiddenSize;
        shapes.put("vit.embeddings.cls_token", new long[]{1, 1, c});
        shapes.put("vit.embeddings.position_embeddings", new long[]{1, contextLength(), c});
        shapes.put("vit.embeddings.patch_embeddings.projection.weight", new long[]{c, channels, patchSize, patchSize});
        shapes.put("vit.embeddings.patch_embeddings.projection.bias", new long[]{c});
        for (int l = 0; l < layers; l++) {
            for (String part : new String[]{"query", "key", "value"}) {
                shapes.put(block(l, "attention.attention." + part + ".weight"), new long[]{c, c});
                shapes.put(block(l, "attention.attention." + part + ".bias"), new long[]{c});
            }
            shapes.put(block(l, "attention.output.dense.weight"), new long[]{c, c});
            shapes.put(block(l, "attention.output.dense.bias"), new long[]{c});
            shapes.put(block(l, "intermediate.dense.weight"), new long[]{intermediateSize, c});
            shapes.put(block(l, "intermediate.dense.bias"), new long[]{intermediateSize});
            shapes.put(block(l, "output.dense.weight"), new long[]{c, intermediateSize});
            shapes.put(block(l, "output.dense.bias"), new long[]{c});
            shapes.put(block(l, "layernorm_before.weight"), new long[]{c});
            shapes.put(block(l, "layernorm_before.bias"), new long[]{c});
            shapes.put(block(l, "layernorm_after.weight"), new long[]{c});
            shapes.put(block(l, "layernorm_after.bias"), new long[]{c});
        }
        shapes.put("vit.layernorm.weight", new long[]{c});
        shapes.put("vit.layernorm.bias", new long[]{c});
        shapes.put("classifier.weight", new long[]{numLabels, c});
        shapes.put("classifier.bias", new long[]{numLabels});
        return shapes;
    }

    /** Per block: query, key, value (one input: key and value share query's A), attention output, MLP in and out. */
    @Override
    public List<LinearLayer> linearLayers() {
        List<LinearLayer> out = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            String attn = "vit.encoder.layer." + l + ".attention.";
            out.add(new LinearLayer(attn + "attention.query", l, LinearRole.ATTN_QKV, hiddenSize, hiddenSize));
            out.add(new LinearLayer(attn + "attention.key", l, LinearRole.ATTN_QKV, hiddenSize, hiddenSize,
                    attn + "attention.query"));
            out.add(new LinearLayer(attn + "attention.value", l, LinearRole.ATTN_QKV, hiddenSize, hiddenSize,
                    attn + "attention.query"));
            out.add(new LinearLayer(attn + "output.dense", l, LinearRole.ATTN_OUT, hiddenSize, hiddenSize));
            out.add(new LinearLayer(block(l, "intermediate.dense"), l, LinearRole.MLP_IN, hiddenSize,
                    intermediateSize));
            out.add(new LinearLayer(block(l, "output.dense"), l, LinearRole.MLP_OUT, intermediateSize, hiddenSize));
        }
        return out;
    }

    @Override
    public Model model(Backend backend, ParameterSet weights) {
        return new VitModel(backend, weights);
    }

    /** {@link VitActivations}' buffers by formula; checked against {@code workspace(b, 1).bytes()} in the tests. */
    @Override
    public long workspaceBytes(int batch, int time, DType dtype) {
        long b = batch;
        long t = contextLength();
        long n = b * t;
        long c = hiddenSize;
        long f = intermediateSize;
        long att = b * heads * t * t;
        long elements = b * patches() * patchValues() * 2      // patches and their gradient
                + b * patches() * c * 2                         // patch embeddings and their gradient
                + (layers + 1L) * n * c                         // residual stream
                + layers * (7 * n * c + 4 * n + 2 * n * f + att)
                + 2 * b * c + 2 * b                             // final norm of the CLS rows, its gradient; mean, rstd
                + b * numLabels + 2 * b                         // logits; losses, log-sum-exp
                + 6 * n * c + 2 * n * f + att                   // backward scratch
                + Math.max(c, Math.max(f, numLabels));          // discard
        return b * DType.I32.byteSize() + elements * dtype.byteSize();
    }

    /** Reads {@code config.json} of ViTForImageClassification; errors name the file and the field. */
    public static VitConfig read(Path configFile) throws IOException {
        ObjectNode root = ConfigJson.read(configFile);
        JsonNode id2label = root.get("id2label");
        int labels = id2label != null && id2label.isObject() ? id2label.size()
                : ConfigJson.intField(configFile, root, "num_labels", 2);
        if (!ConfigJson.booleanField(configFile, root, "qkv_bias", true)) {
            throw new CheckpointFormatException(configFile, null, "qkv_bias is false: curvature's ViT has q/k/v biases");
        }
        try {
            return new VitConfig(ConfigJson.intField(configFile, root, "hidden_size", 768),
                    ConfigJson.intField(configFile, root, "num_hidden_layers", 12),
                    ConfigJson.intField(configFile, root, "num_attention_heads", 12),
                    ConfigJson.intField(configFile, root, "intermediate_size", 3072),
                    ConfigJson.intField(configFile, root, "image_size", 224),
                    ConfigJson.intField(configFile, root, "patch_size", 16),
                    ConfigJson.intField(configFile, root, "num_channels", 3),
                    labels,
                    ConfigJson.doubleField(configFile, root, "layer_norm_eps", 1e-12),
                    ConfigJson.stringField(configFile, root, "hidden_act", "gelu"));
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException(configFile, null, e.getMessage(), e);
        }
    }

    @Override
    public void write(Path configFile) throws IOException {
        ObjectNode node = ConfigJson.object();
        node.putArray("architectures").add("ViTForImageClassification");
        node.put("model_type", "vit");
        node.put("hidden_size", hiddenSize);
        node.put("num_hidden_layers", layers);
        node.put("num_attention_heads", heads);
        node.put("intermediate_size", intermediateSize);
        node.put("hidden_act", hiddenAct);
        node.put("layer_norm_eps", layerNormEps);
        node.put("image_size", imageSize);
        node.put("patch_size", patchSize);
        node.put("num_channels", channels);
        node.put("qkv_bias", true);
        ObjectNode id2label = node.putObject("id2label");
        for (int i = 0; i < numLabels; i++) {
            id2label.put(Integer.toString(i), "LABEL_" + i);
        }
        ConfigJson.write(configFile, ConfigJson.toJson(node));
    }

    private static void positive(String field, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(field + " must be positive, got " + value);
        }
    }
}
