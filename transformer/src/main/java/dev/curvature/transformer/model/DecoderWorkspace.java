package dev.curvature.transformer.model;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;

/**
 * The buffers every decoder-only LM's workspace has — tokens, the residual stream at each block boundary, the final
 * hidden state, logits and losses, and the residual gradient — beside which a family allocates its own layers'
 * buffers with {@link #alloc}. N = B·T rows, C = hidden size, V = vocabulary, L = blocks. The fields are the
 * family's to read and write (its model class computes into them); callers outside use the {@link Workspace} view.
 */
public abstract class DecoderWorkspace extends WorkspaceBuffers {

    long counted;                          // positions with a target ≥ 0 in the current batch
    public final Tensor ids;               // (N) I32
    final Tensor targets;                  // (N) I32, −1 = not scored
    public final Tensor[] residual;        // L+1 × (N, C): residual[0] = input embeddings, residual[l+1] = block l out
    public final Tensor finalHidden;       // (N, C) final norm output, the LM head's input
    final Tensor logits;                   // (N, V); holds dlogits after backward
    final Tensor losses;                   // (N) per-position cross-entropy
    final Tensor logSumExp;                // (N) log Σ exp(logits) per row, reused by backward
    public final Tensor dResidual;         // (N, C) running gradient of the residual stream
    public final Tensor dFinalHidden;      // (N, C)
    final Tensor discard;                  // (longest vector parameter) sink of unwanted norm/bias gradients

    protected DecoderWorkspace(Backend backend, ModelConfig config, DType dtype, int batch, int time) {
        super(backend, batch, time);
        if (batch < 1 || time < 1 || time > config.contextLength()) {
            throw new IllegalArgumentException("batch " + batch + " × time " + time + " must be positive with time <= "
                    + "the context length " + config.contextLength());
        }
        long n = (long) batch * time;
        long c = config.hiddenSize();
        ids = alloc(DType.I32, "ids", n);
        targets = alloc(DType.I32, "targets", n);
        residual = new Tensor[config.layers() + 1];
        for (int l = 0; l <= config.layers(); l++) {
            residual[l] = alloc(dtype, "residual." + l, n, c);
        }
        finalHidden = alloc(dtype, "final_norm", n, c);
        logits = alloc(dtype, "logits", n, config.vocabSize());
        losses = alloc(dtype, "losses", n);
        logSumExp = alloc(dtype, "logsumexp", n);
        dResidual = alloc(dtype, "d.residual", n, c);
        dFinalHidden = alloc(dtype, "d.final_norm", n, c);
        discard = alloc(dtype, "d.discarded", longestVector(config));
    }

    /** Elements of the longest vector parameter (a norm weight or bias; 1 if none): the discard buffer's size. */
    static long longestVector(ModelConfig config) {
        long longest = 1;
        for (long[] shape : config.parameterShapes().values()) {
            longest = shape.length == 1 ? Math.max(longest, shape[0]) : longest;
        }
        return longest;
    }

    /**
     * Bytes of the buffers every decoder workspace has, for {@link ModelConfig#workspaceBytes}: ids and targets (N)
     * I32; L+1 residuals, final norm, its gradient and the residual gradient (N, C); logits (N, V); losses and
     * log-sum-exp (N); the discard buffer. A family adds its own layers' buffers.
     */
    public static long commonBytes(ModelConfig config, int batch, int time, DType dtype) {
        long n = (long) batch * time;
        long elements = (config.layers() + 4L) * n * config.hiddenSize() + n * config.vocabSize() + 2 * n
                + longestVector(config);
        return 2 * n * DType.I32.byteSize() + elements * dtype.byteSize();
    }

    @Override
    public Tensor logits() {
        return logits;
    }

    @Override
    public Tensor losses() {
        return losses;
    }

    @Override
    public Tensor targets() {
        return targets;
    }

    @Override
    public long countedPositions() {
        return counted;
    }

    @Override
    public Tensor inputEmbeddings() {
        return residual[0];
    }

    /** The residual gradient backward leaves at the input of block 0, which is exactly ∂loss/∂x₀. */
    @Override
    public Tensor inputEmbeddingGradient() {
        return dResidual;
    }

}
