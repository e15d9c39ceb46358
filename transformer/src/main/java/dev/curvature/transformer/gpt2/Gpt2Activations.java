package dev.curvature.transformer.gpt2;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.Gpt2Config;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

/**
 * Every buffer one forward/backward pass of a (B, T) batch needs, in one place: what forward saves for backward,
 * and the scratch backward writes. Sizes are fixed at construction, so a long run does not allocate.
 * N = B·T rows; C = n_embd; F = n_inner; V = vocab; H = heads.
 */
public final class Gpt2Activations implements AutoCloseable {
    final int batch;
    final int time;
    final Arena arena;
    final List<Tensor> all = new ArrayList<>();
    private final Backend backend;

    long counted;                     // positions with a target ≥ 0 in the current batch
    final Tensor ids;                 // (N) I32
    final Tensor targets;             // (N) I32, −1 = ignored
    final Tensor[] residual;          // L+1 × (N, C): residual[0] = token + position embeddings, residual[l+1] = block l out
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
    final Tensor lnf;                 // (N, C)
    final Tensor lnfMean;             // (N)
    final Tensor lnfRstd;             // (N)
    final Tensor logits;              // (N, V); holds dlogits after backward
    final Tensor losses;              // (N) per-position cross-entropy
    final Tensor logSumExp;           // (N) log Σ exp(logits) per row, reused by backward

    // backward scratch
    final Tensor dResidual;           // (N, C) running gradient of the residual stream
    final Tensor dLn;                 // (N, C)
    final Tensor dAttY;               // (N, C)
    final Tensor dQkv;                // (N, 3C)
    final Tensor dAtt;                // (B, H, T, T)
    final Tensor dFc;                 // (N, F)
    final Tensor dGelu;               // (N, F)

    public Gpt2Activations(Backend backend, Gpt2Config config, DType dtype, int batch, int time) {
        if (batch < 1 || time < 1 || time > config.nPositions()) {
            throw new IllegalArgumentException("batch " + batch + " × time " + time + " must be positive with time <= "
                    + "n_positions = " + config.nPositions());
        }
        this.backend = backend;
        this.batch = batch;
        this.time = time;
        this.arena = Arena.ofShared();
        int layers = config.nLayer();
        long n = (long) batch * time;
        long c = config.nEmbd();
        long f = config.nInner();
        long h = config.nHead();
        ids = alloc(DType.I32, "ids", n);
        targets = alloc(DType.I32, "targets", n);
        residual = new Tensor[layers + 1];
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
        residual[0] = alloc(dtype, "residual.0", n, c);
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
            residual[l + 1] = alloc(dtype, "residual." + (l + 1), n, c);
        }
        lnf = alloc(dtype, "ln_f", n, c);
        lnfMean = alloc(dtype, "ln_f.mean", n);
        lnfRstd = alloc(dtype, "ln_f.rstd", n);
        logits = alloc(dtype, "logits", n, config.vocabSize());
        losses = alloc(dtype, "losses", n);
        logSumExp = alloc(dtype, "logsumexp", n);
        dResidual = alloc(dtype, "d.residual", n, c);
        dLn = alloc(dtype, "d.ln", n, c);
        dAttY = alloc(dtype, "d.attn.y", n, c);
        dQkv = alloc(dtype, "d.attn.qkv", n, 3 * c);
        dAtt = alloc(dtype, "d.attn.att", batch, h, time, time);
        dFc = alloc(dtype, "d.mlp.fc", n, f);
        dGelu = alloc(dtype, "d.mlp.gelu", n, f);
    }

    private Tensor alloc(DType dtype, String name, long... shape) {
        Tensor t = backend.allocate(arena, dtype, shape).named(name);
        all.add(t);
        return t;
    }

    /** Bytes held by all buffers. */
    public long bytes() {
        long total = 0;
        for (Tensor t : all) {
            total += t.size() * t.dtype().byteSize();
        }
        return total;
    }

    /** A short memory plan: total and the largest buffers, for printing before long runs. */
    public String memoryPlan() {
        List<Tensor> sorted = new ArrayList<>(all);
        sorted.sort((a, b) -> Long.compare(b.size() * b.dtype().byteSize(), a.size() * a.dtype().byteSize()));
        StringBuilder s = new StringBuilder(String.format("activations for batch %d × %d tokens: %.1f MiB in %d buffers%n",
                batch, time, bytes() / 1048576.0, all.size()));
        for (int i = 0; i < Math.min(5, sorted.size()); i++) {
            Tensor t = sorted.get(i);
            s.append(String.format("  %-22s %8.1f MiB%n", t.name(), t.size() * t.dtype().byteSize() / 1048576.0));
        }
        return s.toString();
    }

    public int batch() {
        return batch;
    }

    public int time() {
        return time;
    }

    /** Logits (B·T, V) after forward (overwritten by their gradient in backward). */
    public Tensor logits() {
        return logits;
    }

    /**
     * ∂loss/∂(token + position embeddings) (B·T, C), valid after backward until the next one: backward ends with the
     * residual-stream gradient at the input of block 0, which is exactly this.
     */
    public Tensor inputEmbeddingGradient() {
        return dResidual;
    }

    /** Per-position cross-entropy (B·T), valid after forward; 0 at ignored positions. */
    public Tensor losses() {
        return losses;
    }

    /** Scored positions (target ≥ 0) of the current batch. */
    public long countedPositions() {
        return counted;
    }

    /** The targets (B·T) I32 of the last forward. */
    public Tensor targets() {
        return targets;
    }

    @Override
    public void close() {
        arena.close();
    }
}
