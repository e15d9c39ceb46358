package dev.curvature.transformer.vit;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.model.WorkspaceBuffers;

/**
 * A vision transformer's buffers for one forward/backward pass of B images. T = 1 + P tokens per image (CLS first),
 * N = B·T rows; C = hidden; F = intermediate; P = patches, D = values per patch; K = classes; H = heads.
 */
public final class VitActivations extends WorkspaceBuffers {
    long counted;                     // images with a label ≥ 0
    final Tensor labels;              // (B) I32, −1 = not scored
    final Tensor patches;             // (B·P, D) pixels cut into patches (channel, row, column within a patch)
    final Tensor patchEmbeddings;     // (B·P, C) patch projection output
    final Tensor[] residual;          // L+1 × (N, C): residual[0] = CLS + patch embeddings + positions
    final Tensor[] ln1;               // L × (N, C) layernorm_before
    final Tensor[] ln1Mean;           // L × (N)
    final Tensor[] ln1Rstd;           // L × (N)
    final Tensor[] q;                 // L × (N, C)
    final Tensor[] k;                 // L × (N, C)
    final Tensor[] v;                 // L × (N, C)
    final Tensor[] att;               // L × (B, H, T, T) softmax probabilities
    final Tensor[] attY;              // L × (N, C) heads merged, input of attention.output.dense
    final Tensor[] mid;               // L × (N, C) residual after attention
    final Tensor[] ln2;               // L × (N, C) layernorm_after
    final Tensor[] ln2Mean;           // L × (N)
    final Tensor[] ln2Rstd;           // L × (N)
    final Tensor[] fc;                // L × (N, F) intermediate.dense output, before GELU
    final Tensor[] gelu;              // L × (N, F) input of output.dense
    final Tensor lnf;                 // (B, C) vit.layernorm of the CLS rows
    final Tensor lnfMean;             // (B)
    final Tensor lnfRstd;             // (B)
    final Tensor logits;              // (B, K); holds dlogits after backward
    final Tensor losses;              // (B)
    final Tensor logSumExp;           // (B)

    // backward scratch
    final Tensor dResidual;           // (N, C); ∂loss/∂residual[0] after backward
    final Tensor dLn;                 // (N, C)
    final Tensor dAttY;               // (N, C)
    final Tensor dQ;                  // (N, C)
    final Tensor dK;                  // (N, C)
    final Tensor dV;                  // (N, C)
    final Tensor dAtt;                // (B, H, T, T)
    final Tensor dFc;                 // (N, F)
    final Tensor dGelu;               // (N, F)
    final Tensor dLnf;                // (B, C)
    final Tensor dPatchEmbeddings;    // (B·P, C)
    final Tensor dPatches;            // (B·P, D) ∂loss/∂patches after backward (the pixel gradient, cut into patches)
    final Tensor discard;             // sink of unwanted vector gradients

    public VitActivations(Backend backend, VitConfig config, DType dtype, int batch) {
        super(backend, batch, config.contextLength());
        if (batch < 1) {
            throw new IllegalArgumentException("batch must be positive, got " + batch);
        }
        int layers = config.layers();
        long t = config.contextLength();
        long n = batch * t;
        long c = config.hiddenSize();
        long f = config.intermediateSize();
        long h = config.heads();
        long bp = (long) batch * config.patches();
        labels = alloc(DType.I32, "labels", batch);
        patches = alloc(dtype, "patches", bp, config.patchValues());
        patchEmbeddings = alloc(dtype, "patch_embeddings", bp, c);
        residual = new Tensor[layers + 1];
        ln1 = new Tensor[layers];
        ln1Mean = new Tensor[layers];
        ln1Rstd = new Tensor[layers];
        q = new Tensor[layers];
        k = new Tensor[layers];
        v = new Tensor[layers];
        att = new Tensor[layers];
        attY = new Tensor[layers];
        mid = new Tensor[layers];
        ln2 = new Tensor[layers];
        ln2Mean = new Tensor[layers];
        ln2Rstd = new Tensor[layers];
        fc = new Tensor[layers];
        gelu = new Tensor[layers];
        residual[0] = alloc(dtype, "residual.0", n, c);
        for (int l = 0; l < layers; l++) {
            String p = "vit.encoder.layer." + l + ".";
            ln1[l] = alloc(dtype, p + "layernorm_before", n, c);
            ln1Mean[l] = alloc(dtype, p + "layernorm_before.mean", n);
            ln1Rstd[l] = alloc(dtype, p + "layernorm_before.rstd", n);
            q[l] = alloc(dtype, p + "query", n, c);
            k[l] = alloc(dtype, p + "key", n, c);
            v[l] = alloc(dtype, p + "value", n, c);
            att[l] = alloc(dtype, p + "att", batch, h, t, t);
            attY[l] = alloc(dtype, p + "attention.y", n, c);
            mid[l] = alloc(dtype, p + "mid", n, c);
            ln2[l] = alloc(dtype, p + "layernorm_after", n, c);
            ln2Mean[l] = alloc(dtype, p + "layernorm_after.mean", n);
            ln2Rstd[l] = alloc(dtype, p + "layernorm_after.rstd", n);
            fc[l] = alloc(dtype, p + "intermediate", n, f);
            gelu[l] = alloc(dtype, p + "gelu", n, f);
            residual[l + 1] = alloc(dtype, "residual." + (l + 1), n, c);
        }
        lnf = alloc(dtype, "vit.layernorm", batch, c);
        lnfMean = alloc(dtype, "vit.layernorm.mean", batch);
        lnfRstd = alloc(dtype, "vit.layernorm.rstd", batch);
        logits = alloc(dtype, "logits", batch, config.numLabels());
        losses = alloc(dtype, "losses", batch);
        logSumExp = alloc(dtype, "logsumexp", batch);
        dResidual = alloc(dtype, "d.residual", n, c);
        dLn = alloc(dtype, "d.ln", n, c);
        dAttY = alloc(dtype, "d.attention.y", n, c);
        dQ = alloc(dtype, "d.query", n, c);
        dK = alloc(dtype, "d.key", n, c);
        dV = alloc(dtype, "d.value", n, c);
        dAtt = alloc(dtype, "d.att", batch, h, t, t);
        dFc = alloc(dtype, "d.intermediate", n, f);
        dGelu = alloc(dtype, "d.gelu", n, f);
        dLnf = alloc(dtype, "d.vit.layernorm", batch, c);
        dPatchEmbeddings = alloc(dtype, "d.patch_embeddings", bp, c);
        dPatches = alloc(dtype, "d.patches", bp, config.patchValues());
        discard = alloc(dtype, "d.discarded", Math.max(c, Math.max(f, config.numLabels())));
    }

    /** The CLS row of every image in a (N, W) tensor: a (B, W) view with row stride T·W. */
    Tensor clsRows(Tensor rows) {
        return rows.reshape(batch, time, rows.dim(1)).select(1, 0);
    }

    /** Class logits (B, K) after forward (overwritten by their gradient in backward). */
    @Override
    public Tensor logits() {
        return logits;
    }

    /** Per-image cross-entropy (B) after forward; 0 for images not scored. */
    @Override
    public Tensor losses() {
        return losses;
    }

    /** The labels (B) I32 of the last forward (−1: not scored). */
    @Override
    public Tensor targets() {
        return labels;
    }

    /** Images with a label ≥ 0. */
    @Override
    public long countedPositions() {
        return counted;
    }

    /** The token embeddings x₀ (B·T, C) entering block 0: CLS + patch projections, plus positions. */
    @Override
    public Tensor inputEmbeddings() {
        return residual[0];
    }

    @Override
    public Tensor inputEmbeddingGradient() {
        return dResidual;
    }
}
