package dev.curvature.transformer.gpt2;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.model.DecoderWorkspace;

/**
 * GPT-2's buffers for one forward/backward pass of a (B, T) batch, beside the decoder's common ones (tokens,
 * residual stream, final norm, logits). N = B·T rows; C = n_embd; F = n_inner; H = heads.
 */
public final class Gpt2Activations extends DecoderWorkspace {
    final Tensor[] ln1;               // L × (N, C)
    final Tensor[] ln1Mean;           // L × (N)
    final Tensor[] ln1Rstd;           // L × (N)
    final Tensor[] qkv;               // L × (N, 3C)
    final Tensor[] att;               // L × (B, H, T, T) softmax probabilities
    final Tensor[] attY;              // L × (N, C) heads merged, input of attn.c_proj
    final Tensor[] mid;               // L × (N, C) residual after attention
    final Tensor[] ln2;               // L × (N, C)
    final Tensor[] ln2Mean;           // L × (N)
    final Tensor[] ln2Rstd;           // L × (N)
    final Tensor[] fc;                // L × (N, F) c_fc output, before GELU
    final Tensor[] gelu;              // L × (N, F) input of mlp.c_proj
    final Tensor lnfMean;             // (N)
    final Tensor lnfRstd;             // (N)

    // backward scratch
    final Tensor dLn;                 // (N, C)
    final Tensor dAttY;               // (N, C)
    final Tensor dQkv;                // (N, 3C)
    final Tensor dAtt;                // (B, H, T, T)
    final Tensor dFc;                 // (N, F)
    final Tensor dGelu;               // (N, F)

    public Gpt2Activations(Backend backend, Gpt2Config config, DType dtype, int batch, int time) {
        super(backend, config, dtype, batch, time);
        int layers = config.nLayer();
        long n = (long) batch * time;
        long c = config.nEmbd();
        long f = config.nInner();
        long h = config.nHead();
        ln1 = new Tensor[layers];
        ln1Mean = new Tensor[layers];
        ln1Rstd = new Tensor[layers];
        qkv = new Tensor[layers];
        att = new Tensor[layers];
        attY = new Tensor[layers];
        mid = new Tensor[layers];
        ln2 = new Tensor[layers];
        ln2Mean = new Tensor[layers];
        ln2Rstd = new Tensor[layers];
        fc = new Tensor[layers];
        gelu = new Tensor[layers];
        for (int l = 0; l < layers; l++) {
            String p = "h." + l + ".";
            ln1[l] = alloc(dtype, p + "ln_1", n, c);
            ln1Mean[l] = alloc(dtype, p + "ln_1.mean", n);
            ln1Rstd[l] = alloc(dtype, p + "ln_1.rstd", n);
            qkv[l] = alloc(dtype, p + "attn.qkv", n, 3 * c);
            att[l] = alloc(dtype, p + "attn.att", batch, h, time, time);
            attY[l] = alloc(dtype, p + "attn.y", n, c);
            mid[l] = alloc(dtype, p + "mid", n, c);
            ln2[l] = alloc(dtype, p + "ln_2", n, c);
            ln2Mean[l] = alloc(dtype, p + "ln_2.mean", n);
            ln2Rstd[l] = alloc(dtype, p + "ln_2.rstd", n);
            fc[l] = alloc(dtype, p + "mlp.fc", n, f);
            gelu[l] = alloc(dtype, p + "mlp.gelu", n, f);
        }
        lnfMean = alloc(dtype, "ln_f.mean", n);
        lnfRstd = alloc(dtype, "ln_f.rstd", n);
        dLn = alloc(dtype, "d.ln", n, c);
        dAttY = alloc(dtype, "d.attn.y", n, c);
        dQkv = alloc(dtype, "d.attn.qkv", n, 3 * c);
        dAtt = alloc(dtype, "d.attn.att", batch, h, time, time);
        dFc = alloc(dtype, "d.mlp.fc", n, f);
        dGelu = alloc(dtype, "d.mlp.gelu", n, f);
    }
}
