package dev.curvature.transformer.vit;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.layers.Linear;
import dev.curvature.transformer.layers.MultiHeadAttention;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.LayeredModel;
import dev.curvature.transformer.model.ParameterSet;
import dev.curvature.transformer.model.TokenRows;
import dev.curvature.transformer.model.Workspace;

import java.lang.foreign.Arena;

/**
 * The vision transformer of {@link VitConfig} (HF {@code ViTForImageClassification} semantics), forward and backward
 * written out layer by layer.
 *
 * <pre>
 * patches (B·P, D) = the image cut into p × p patches, values in (channel, row, column) order
 * x₀ (B, T, C)     = [cls_token ; patches · W_projᵀ + b_proj] + position_embeddings          T = 1 + P
 * per block l:  m = x + o(attn(q(n₁(x)), k(n₁(x)), v(n₁(x))));  x' = m + out(gelu(in(n₂(m))))
 *   n₁ = layernorm_before, n₂ = layernorm_after (LayerNorm with bias), attn bidirectional over the T tokens
 * logits (B, K)    = classifier(layernorm(x_L[:, 0]))                                        on the CLS token
 * loss             = mean over scored images of −log softmax(logits)[label]   (label −1: not scored)
 * </pre>
 * Linear layers are reported to observers by their HF names ("vit.encoder.layer.0.intermediate.dense"); the patch
 * projection and the classifier are not K-FAC layers (not in {@link VitConfig#linearLayers()}).
 */
public final class VitModel extends LayeredModel<VitActivations> {
    private static final String PROJECTION = "vit.embeddings.patch_embeddings.projection.";
    private final VitConfig config;

    public VitModel(Backend backend, ParameterSet weights) {
        super(backend, weights, VitActivations.class);
        if (!(weights.config() instanceof VitConfig vit)) {
            throw new IllegalArgumentException("a vision transformer needs ViT parameters, got those of a "
                    + weights.config().modelType());
        }
        this.config = vit;
    }

    @Override
    public VitConfig config() {
        return config;
    }

    /** Buffers for {@code batch} images; {@code time} must be the tokens per image, 1 + patches. */
    @Override
    public VitActivations workspace(int batch, int time) {
        if (time != config.contextLength()) {
            throw new IllegalArgumentException("a ViT of " + config.patches() + " patches runs sequences of "
                    + config.contextLength() + " tokens, not " + time);
        }
        return new VitActivations(backend, config, dtype(), batch);
    }

    /** Buffers for {@code batch} images. */
    public VitActivations workspace(int batch) {
        return workspace(batch, config.contextLength());
    }

    private Tensor w(int l, String suffix) {
        return weights.get(VitConfig.block(l, suffix));
    }

    /** The patch projection as a linear weight (C, D): HF's Conv2d kernel (C, channels, p, p) read row by row. */
    private Tensor projection(ParameterSet set) {
        return set.get(PROJECTION + "weight").reshape(config.hiddenSize(), config.patchValues());
    }

    @Override
    public double forward(Workspace workspace, Batch batch) {
        VitActivations act = cast(workspace);
        if (!(batch instanceof Batch.Images images)) {
            throw new IllegalArgumentException("a vision transformer takes image batches, got "
                    + batch.getClass().getSimpleName());
        }
        if (images.labels().length != act.batch || images.pixels().length != (long) act.batch * config.imageValues()) {
            throw new IllegalArgumentException("expected " + act.batch + " images of " + config.channels() + " × "
                    + config.imageSize() + " × " + config.imageSize() + " pixels and as many labels, got "
                    + images.pixels().length + " pixel values and " + images.labels().length + " labels");
        }
        storeLabels(act, images.labels());
        double[] patches = patches(images.pixels(), act.batch);
        try (Arena host = Arena.ofConfined()) {
            backend.copy(act.patches, Tensor.of(host, DType.F64, patches, act.patches.dim(0), act.patches.dim(1)));
        }
        embed(act);
        return forwardFromEmbeddings(act);
    }

    /** The images cut into patches: row b·P + py·side + px holds patch (py, px) of image b, (channel, i, j) order. */
    double[] patches(double[] pixels, int batch) {
        double[] out = new double[batch * config.patches() * config.patchValues()];
        walkPatches(batch, (pixel, patch, length) -> System.arraycopy(pixels, pixel, out, patch, length));
        return out;
    }

    /** The inverse of {@link #patches}: a (B·P, D) patch array back into (B, channels, S, S) pixels. */
    double[] pixels(double[] patches, int batch) {
        double[] out = new double[batch * config.imageValues()];
        walkPatches(batch, (pixel, patch, length) -> System.arraycopy(patches, patch, out, pixel, length));
        return out;
    }

    /** A run of p values that are consecutive both in the image (one patch row) and in the patch array. */
    @FunctionalInterface
    private interface PatchRun {
        void copy(int pixelOffset, int patchOffset, int length);
    }

    /** Every patch row of every channel of every patch of the batch, as matching offsets in both layouts. */
    private void walkPatches(int batch, PatchRun run) {
        int s = config.imageSize();
        int p = config.patchSize();
        int side = s / p;
        int channels = config.channels();
        int d = config.patchValues();
        for (int b = 0; b < batch; b++) {
            for (int py = 0; py < side; py++) {
                for (int px = 0; px < side; px++) {
                    int row = (b * config.patches() + py * side + px) * d;
                    for (int ch = 0; ch < channels; ch++) {
                        for (int i = 0; i < p; i++) {
                            run.copy(((b * channels + ch) * s + py * p + i) * s + px * p, row + (ch * p + i) * p, p);
                        }
                    }
                }
            }
        }
    }

    /** ∂loss/∂pixels (B·channels·S·S) of the last backward, in the layout of {@link Batch.Images#pixels()}. */
    public double[] pixelGradient(Workspace workspace) {
        VitActivations act = cast(workspace);
        return pixels(act.dPatches.toDoubleArray(), act.batch);
    }

    private void storeLabels(VitActivations act, int[] labels) {
        long counted = 0;
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < -1 || labels[i] >= config.numLabels()) {
                throw new IllegalArgumentException("label " + labels[i] + " of image " + i + " must be −1 (not scored)"
                        + " or a class below " + config.numLabels());
            }
            counted += labels[i] >= 0 ? 1 : 0;
        }
        backend.writeInts(act.labels, labels);
        act.counted = counted;
    }

    /** x₀ rows of image b: [cls ; patch embeddings] + positions. */
    private void embed(VitActivations act) {
        Linear.forward(backend, act.patchEmbeddings, act.patches, projection(weights), weights.get(PROJECTION + "bias"));
        long t = act.time;
        long p = config.patches();
        int c = config.hiddenSize();
        Tensor cls = weights.get("vit.embeddings.cls_token").reshape(1, c);
        Tensor positions = weights.get("vit.embeddings.position_embeddings").reshape(t, c);
        Tensor x0 = act.residual[0];
        for (int b = 0; b < act.batch; b++) {
            backend.copy(x0.slice(0, b * t, b * t + 1), cls);
            backend.copy(x0.slice(0, b * t + 1, (b + 1) * t), act.patchEmbeddings.slice(0, b * p, (b + 1) * p));
            Tensor rows = x0.slice(0, b * t, (b + 1) * t);
            backend.add(rows, rows, positions);
        }
    }

    /**
     * The forward pass from x₀ = {@link Workspace#inputEmbeddings()} (filled by {@link #forward}, or changed by the
     * caller). Returns the mean loss over scored images.
     */
    @Override
    public double forwardFromEmbeddings(Workspace workspace) {
        VitActivations act = cast(workspace);
        double eps = config.layerNormEps();
        int heads = config.heads();
        for (int l = 0; l < config.layers(); l++) {
            String p = "vit.encoder.layer." + l + ".";
            Tensor x = act.residual[l];
            backend.layerNorm(act.ln1[l], act.ln1Mean[l], act.ln1Rstd[l], x, w(l, "layernorm_before.weight"),
                    w(l, "layernorm_before.bias"), eps);
            linearForward(p + "attention.attention.query", act.q[l], act.ln1[l]);
            linearForward(p + "attention.attention.key", act.k[l], act.ln1[l]);
            linearForward(p + "attention.attention.value", act.v[l], act.ln1[l]);
            MultiHeadAttention.forward(backend, act.batched(act.attY[l]), act.att[l], act.batched(act.q[l]),
                    act.batched(act.k[l]), act.batched(act.v[l]), heads, heads, false);
            linearForward(p + "attention.output.dense", act.mid[l], act.attY[l]);
            backend.add(act.mid[l], act.mid[l], x);
            backend.layerNorm(act.ln2[l], act.ln2Mean[l], act.ln2Rstd[l], act.mid[l], w(l, "layernorm_after.weight"),
                    w(l, "layernorm_after.bias"), eps);
            linearForward(p + "intermediate.dense", act.fc[l], act.ln2[l]);
            backend.geluTanh(act.gelu[l], act.fc[l]);
            linearForward(p + "output.dense", act.residual[l + 1], act.gelu[l]);
            backend.add(act.residual[l + 1], act.residual[l + 1], act.mid[l]);
        }
        backend.layerNorm(act.lnf, act.lnfMean, act.lnfRstd, act.clsRows(act.residual[config.layers()]),
                weights.get("vit.layernorm.weight"), weights.get("vit.layernorm.bias"), eps);
        Linear.forward(backend, act.logits, act.lnf, weights.get("classifier.weight"), weights.get("classifier.bias"));
        return score(act);
    }

    private double score(VitActivations act) {
        backend.crossEntropy(act.losses, act.logSumExp, act.logits, act.labels);
        return act.counted == 0 ? Double.NaN : backend.sum(act.losses) / act.counted;
    }

    /** LABELLED: the CLS row b·T of each labelled image b; ALL: every token row of each labelled image. */
    @Override
    public int[] countedRows(Batch batch, TokenRows which) {
        if (!(batch instanceof Batch.Images images)) {
            throw new IllegalArgumentException("a vision transformer takes image batches");
        }
        int t = config.contextLength();
        int[] labels = images.labels();
        java.util.stream.IntStream scored = java.util.stream.IntStream.range(0, labels.length)
                .filter(b -> labels[b] >= 0);
        return which == TokenRows.LABELLED ? scored.map(b -> b * t).toArray()
                : scored.flatMap(b -> java.util.stream.IntStream.range(b * t, (b + 1) * t)).toArray();
    }

    @Override
    public double retarget(Workspace workspace, int[] targets) {
        VitActivations act = cast(workspace);
        if (targets.length != act.batch) {
            throw new IllegalArgumentException("expected " + act.batch + " labels, got " + targets.length);
        }
        storeLabels(act, targets);
        return score(act);
    }

    @Override
    public void backward(Workspace workspace, ParameterSet grads, double scale) {
        VitActivations act = cast(workspace);
        Tensor discard = act.discard;
        backend.crossEntropyBackward(act.logits, act.logits, act.logSumExp, act.labels, scale);
        Linear.backward(backend, act.dLnf, grads == null ? null : grads.get("classifier.weight"),
                grads == null ? null : grads.get("classifier.bias"), act.logits, act.lnf,
                weights.get("classifier.weight"));
        Tensor dx = act.dResidual;
        backend.fill(dx, 0.0);
        backend.layerNormBackward(act.clsRows(dx), vectorGradient(grads, discard, "vit.layernorm.weight"),
                vectorGradient(grads, discard, "vit.layernorm.bias"), act.dLnf,
                act.clsRows(act.residual[config.layers()]), weights.get("vit.layernorm.weight"), act.lnfMean,
                act.lnfRstd);
        int heads = config.heads();
        for (int l = config.layers() - 1; l >= 0; l--) {
            String p = "vit.encoder.layer." + l + ".";
            // x' = m + out(gelu(in(n₂(m)))): dx holds dx'
            linearBackward(p + "output.dense", act.dGelu, grads, dx, act.gelu[l]);
            backend.geluTanhBackward(act.dFc, act.dGelu, act.fc[l]);
            linearBackward(p + "intermediate.dense", act.dLn, grads, act.dFc, act.ln2[l]);
            backend.layerNormBackward(dx, vectorGradient(grads, discard, p + "layernorm_after.weight"),
                    vectorGradient(grads, discard, p + "layernorm_after.bias"), act.dLn, act.mid[l],
                    w(l, "layernorm_after.weight"), act.ln2Mean[l], act.ln2Rstd[l]);
            // dx now holds dm; m = x + o(attn(q, k, v of n₁(x)))
            linearBackward(p + "attention.output.dense", act.dAttY, grads, dx, act.attY[l]);
            MultiHeadAttention.backward(backend, act.batched(act.dQ), act.batched(act.dK), act.batched(act.dV),
                    act.dAtt, act.batched(act.dAttY), act.batched(act.q[l]), act.batched(act.k[l]),
                    act.batched(act.v[l]), act.att[l], heads, heads, false);
            linearBackward(p + "attention.attention.query", act.dLn, grads, act.dQ, act.ln1[l]);
            linearBackward(p + "attention.attention.key", act.dAttY, grads, act.dK, act.ln1[l]);   // dAttY: scratch now
            backend.add(act.dLn, act.dLn, act.dAttY);
            linearBackward(p + "attention.attention.value", act.dAttY, grads, act.dV, act.ln1[l]);
            backend.add(act.dLn, act.dLn, act.dAttY);
            backend.layerNormBackward(dx, vectorGradient(grads, discard, p + "layernorm_before.weight"),
                    vectorGradient(grads, discard, p + "layernorm_before.bias"), act.dLn, act.residual[l],
                    w(l, "layernorm_before.weight"), act.ln1Mean[l], act.ln1Rstd[l]);
        }
        embedBackward(act, grads);
    }

    /** x₀ = [cls ; patches · Wᵀ + b] + positions: dx₀ (act.dResidual) goes to the CLS token, positions and patches. */
    private void embedBackward(VitActivations act, ParameterSet grads) {
        long t = act.time;
        long p = config.patches();
        int c = config.hiddenSize();
        Tensor dx = act.dResidual;
        for (int b = 0; b < act.batch; b++) {
            if (grads != null) {
                backend.axpy(grads.get("vit.embeddings.position_embeddings").reshape(t, c),
                        dx.slice(0, b * t, (b + 1) * t), 1.0);
                backend.axpy(grads.get("vit.embeddings.cls_token").reshape(1, c), dx.slice(0, b * t, b * t + 1), 1.0);
            }
            backend.copy(act.dPatchEmbeddings.slice(0, b * p, (b + 1) * p), dx.slice(0, b * t + 1, (b + 1) * t));
        }
        Linear.backward(backend, act.dPatches, grads == null ? null : projection(grads),
                grads == null ? null : grads.get(PROJECTION + "bias"), act.dPatchEmbeddings, act.patches,
                projection(weights));
    }
}
