package dev.curvature.engine;

import java.lang.foreign.Arena;

/**
 * The numerical operations models and curvature code are written against. One implementation per device
 * (CPU: OpenBLAS/LAPACK and Java kernels; CUDA: cuBLAS/cuSOLVER and CUDA kernels); callers never branch on it.
 *
 * <p>Conventions: output arguments first, inputs after. "Writes" overwrites the output, "accumulates" adds into
 * it. Matrices are row-major 2-D tensors whose last dimension has stride 1 (or, for GEMM operands, whose first
 * dimension has stride 1: a transposed view). Compute dtypes are F32 and F64; BF16/F16 are storage types that
 * {@link #copy} converts. Elementwise kernels accumulate in double internally, whatever the storage type.
 */
public interface Backend extends AutoCloseable {

    /** Human name, e.g. "cpu (OpenBLAS 0.3.21 ..., 2 threads)". */
    String name();

    /** Where this backend's tensors live. */
    Device device();

    /** A zero-filled tensor in this backend's memory, owned by {@code arena}. */
    Tensor allocate(Arena arena, DType dtype, long... shape);

    // ---- data movement -------------------------------------------------------------------------------------

    /**
     * Writes dst = src elementwise, converting dtypes (rounding to nearest-even when narrowing). Same shape; src may
     * be a transposed 2-D view (the copy then transposes, e.g. HF Conv1D weights into the (out, in) layout).
     */
    void copy(Tensor dst, Tensor src);

    /** Writes every element of {@code dst} to {@code value}. */
    void fill(Tensor dst, double value);

    /**
     * Writes dst = values for a contiguous I32 tensor of {@code values.length} elements (token ids, targets, masks:
     * model code hands small integer vectors over without touching memory segments).
     */
    void writeInts(Tensor dst, int[] values);

    /** The elements of a contiguous I32 tensor, in row-major order (a copy). */
    int[] readInts(Tensor src);

    // ---- BLAS --------------------------------------------------------------------------------------------------

    /**
     * Writes C (m, n) = alpha · op(A) · op(B) + beta · C with op(A) (m, k), op(B) (k, n). All three share one
     * compute dtype. With beta = 0, C is not read (NaN in C does not propagate).
     */
    void gemm(Tensor c, Tensor a, Transpose opA, Tensor b, Transpose opB, double alpha, double beta);

    /**
     * {@link #gemm} for each index of the leading batch dimensions: C (B₁, …, m, n), A (B₁, …, ., .), B (B₁, …, ., .)
     * of one rank ≥ 3 and the same leading sizes, any strides (e.g. attention heads cut from packed rows). No two
     * entries of C may share memory: the products may run at once.
     */
    void gemmBatched(Tensor c, Tensor a, Transpose opA, Tensor b, Transpose opB, double alpha, double beta);

    /**
     * Writes the upper triangle (diagonal included) of C (n, n) = alpha · Xᵀ X + beta · C for X (k, n), in X's
     * dtype; the strict lower triangle of C is neither read nor written.
     *
     * <p>C may also be (p, n, n): X's rows then split into p consecutive blocks, block i the rows
     * [⌊i·k/p⌋, ⌊(i+1)·k/p⌋), and C[i] = alpha · X_iᵀ X_i + beta · C[i]; k ≥ p. The blocks are independent products
     * (one per thread on the CPU), summed afterwards by {@link #addUpper} with a (p, n, n) source.
     */
    void syrkUpper(Tensor c, Tensor x, double alpha, double beta);

    /**
     * How many row blocks a batch X (rows, n) should be split into by {@link #syrkUpper} with a (p, n, n) C for the
     * fastest covariance update (p ≥ 1). More than 1 only where p independent products beat one product split
     * across threads — on the CPU, blocks of at least n rows, one per thread.
     */
    int syrkRowBlocks(long rows, long n);

    /**
     * Accumulates the upper triangle: dst[i][j] += alpha · src[i][j] for j ≥ i. dst and src are (n, n). src may
     * also be (p, n, n): dst[i][j] += alpha · Σ_b src[b][i][j], the sum over b taken in float64 first.
     */
    void addUpper(Tensor dst, Tensor src, double alpha);

    /** Writes the strict lower triangle of the square matrix {@code a} from its upper triangle (a = aᵀ after). */
    void symmetrizeFromUpper(Tensor a);

    // ---- LAPACK ------------------------------------------------------------------------------------------------

    /**
     * Eigendecomposition of the symmetric matrix {@code a} (n, n), reading its upper triangle; {@code a} is not
     * modified. Rejects NaN/Inf naming {@code a.name()}. Values descending, vector columns permuted with them,
     * negatives clipped to 0 when {@code clipNegatives} (PSD factors), and a float64 quality report.
     * Results are allocated in {@code arena}, in a's dtype.
     */
    SymmetricEigen eigh(Arena arena, Tensor a, boolean clipNegatives);

    // ---- elementwise and reductions ----------------------------------------------------------------------------

    /** Writes out = a + b (same shapes). */
    void add(Tensor out, Tensor a, Tensor b);

    /** Writes out = a ⊙ b (same shapes). */
    void mul(Tensor out, Tensor a, Tensor b);

    /** Writes out = alpha · a. */
    void scale(Tensor out, Tensor a, double alpha);

    /** Accumulates y += alpha · x. */
    void axpy(Tensor y, Tensor x, double alpha);

    /** Writes out (N) = max over the last dimension of x (N, C). */
    void rowMax(Tensor out, Tensor x);

    /** Writes out (N) = sum over the last dimension of x (N, C). */
    void rowSum(Tensor out, Tensor x);

    /**
     * Writes out (N) I32 = argmax over the last dimension of x (N, C), C ≥ 1; ties go to the lowest index. NaN never
     * wins (it compares as neither larger nor equal): a row that is NaN except somewhere gives the largest non-NaN
     * entry's index, an all-NaN row gives 0.
     */
    void rowArgmax(Tensor out, Tensor x);

    /**
     * Writes out (N, k) I32 = the indices of the k largest entries of each row of x (N, C), 1 ≤ k ≤ C, largest first;
     * ties go to the lower index first, and NaN ranks below every number.
     */
    void rowTopK(Tensor out, Tensor x);

    /** Writes y (N, C) = softmax of each row of x (N, C); y may be x. */
    void softmaxRows(Tensor y, Tensor x);

    /** Writes dx (N, C) = y ⊙ (dy − rowsum(dy ⊙ y)), the softmax backward given its output y; dx may be dy. */
    void softmaxRowsBackward(Tensor dx, Tensor dy, Tensor y);

    /** Writes y = GELU(x) with the tanh approximation: 0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³))); y may be x. */
    void geluTanh(Tensor y, Tensor x);

    /** Writes dx = dy ⊙ GELU'(x) (tanh approximation); dx may be dy. */
    void geluTanhBackward(Tensor dx, Tensor dy, Tensor x);

    /** Accumulates y (N, C) += v (C) on every row (a bias). */
    void addRowVector(Tensor y, Tensor v);

    /** Accumulates dv (C) += Σ over rows of dy (N, C) (a bias gradient). */
    void sumRowsInto(Tensor dv, Tensor dy);

    // ---- transformer layers' numerics ---------------------------------------------------------------------------

    /**
     * LayerNorm over the last dimension: writes y (N, C) = (x − mean) · rstd ⊙ weight + bias with the biased
     * variance, rstd = 1/√(var + eps); writes mean (N) and rstd (N) for backward.
     */
    void layerNorm(Tensor y, Tensor mean, Tensor rstd, Tensor x, Tensor weight, Tensor bias, double eps);

    /**
     * LayerNorm backward given dy (N, C): accumulates dx (N, C), dWeight (C) += Σ dy ⊙ x̂ and dBias (C) += Σ dy,
     * where x̂ = (x − mean) · rstd. Needs x, weight, mean, rstd from forward.
     */
    void layerNormBackward(Tensor dx, Tensor dWeight, Tensor dBias, Tensor dy, Tensor x, Tensor weight,
                           Tensor mean, Tensor rstd);

    /**
     * RMSNorm over the last dimension (HF LlamaRMSNorm, Olmo2RMSNorm): writes y (N, C) = x · rstd ⊙ weight and
     * rstd (N) = 1/√(mean_c x² + eps) for backward; weight (C). y may be x (in place).
     */
    void rmsNorm(Tensor y, Tensor rstd, Tensor x, Tensor weight, double eps);

    /**
     * RMSNorm backward given dy (N, C): accumulates dx (N, C) += rstd · (w ⊙ dy) − rstd³/C · x · Σ_c (w ⊙ dy ⊙ x)
     * and dWeight (C) += Σ_rows dy ⊙ x · rstd. Needs x, weight and rstd (N) from forward; dx must not be dy or x.
     */
    void rmsNormBackward(Tensor dx, Tensor dWeight, Tensor dy, Tensor x, Tensor weight, Tensor rstd);

    /**
     * Rotary position embedding, HF "rotate-half" convention: writes y (N, H·d) from x (N, H·d), N = B · time rows,
     * row r at position p = offset + (r mod time). For each head h and i in [0, d/2), with a = x[h·d + i],
     * b = x[h·d + i + d/2], c = cos[p][i], s = sin[p][i]: y[h·d + i] = a·c − b·s, y[h·d + i + d/2] = b·c + a·s
     * (that is x ⊙ cat(cos, cos) + rotate_half(x) ⊙ cat(sin, sin), rotate_half(x) = cat(−x₂, x₁)). cos and sin are
     * (P, d/2) tables with P > offset + time − 1. {@code inverse} rotates by the negative angle (s → −s): the
     * backward, dx from dy. y may be x (in place). Rejects an odd d, a width that is not a multiple of d, a time
     * that does not divide N and positions outside the tables.
     */
    void rotary(Tensor y, Tensor x, Tensor cos, Tensor sin, int headDim, int time, int offset, boolean inverse);

    /** Writes h (N, F) = silu(gate) ⊙ up with silu(z) = z · σ(z) (the SwiGLU MLP); h may be gate or up. */
    void swiglu(Tensor h, Tensor gate, Tensor up);

    /**
     * SwiGLU backward given dh (N, F): writes dGate = dh ⊙ up ⊙ σ(g) (1 + g (1 − σ(g))) and dUp = dh ⊙ silu(g),
     * g = gate. σ is evaluated without overflow for any |g| (finite results at ±1000). Outputs may be inputs.
     */
    void swigluBackward(Tensor dGate, Tensor dUp, Tensor dh, Tensor gate, Tensor up);

    /** Writes out (N, C) row i = table (V, C) row ids[i]; ids (N) I32. An id outside [0, V) is an error naming it. */
    void gatherRows(Tensor out, Tensor table, Tensor ids);

    /** Accumulates dTable (V, C) row ids[i] += dOut (N, C) row i (repeated ids add up). */
    void scatterAddRows(Tensor dTable, Tensor dOut, Tensor ids);

    /**
     * Causal softmax over the last dimension of square blocks: x, y (R, T, T); row t of each block is the softmax
     * of scale · x[t, 0..t], and y[t, j] = 0 for j > t (masked positions are never read from x). y may be x.
     */
    void causalSoftmax(Tensor y, Tensor x, double scale);

    /** Writes dx (R, T, T) = scale · y ⊙ (dy − rowsum(dy ⊙ y)) for the causal softmax output y; dx may be dy. */
    void causalSoftmaxBackward(Tensor dx, Tensor dy, Tensor y, double scale);

    /**
     * Writes logSumExp (N) = log Σ_v exp(logits_i,v) for every row of logits (N, V), and losses (N) =
     * logSumExp_i − logits_i[targets_i] for targets (N) I32; rows whose target is negative are ignored (loss 0).
     * logSumExp is kept for {@link #crossEntropyBackward} and for re-scoring other targets.
     */
    void crossEntropy(Tensor losses, Tensor logSumExp, Tensor logits, Tensor targets);

    /**
     * Writes dLogits (N, V) = scale · (softmax(logits_i) − onehot(targets_i)) — the gradient of scale · Σ_i loss_i —
     * and 0 on ignored rows (negative target), with softmax = exp(logits − logSumExp) from {@link #crossEntropy}.
     * dLogits may be logits (in place).
     */
    void crossEntropyBackward(Tensor dLogits, Tensor logits, Tensor logSumExp, Tensor targets, double scale);

    /**
     * Draws one label per row from softmax(logits) (N, V) with one {@code java.util.SplittableRandom(streamSeed)}:
     * writes out (N) I32. Rows i with a negative mask[i] (mask (N) I32) get −1 and draw nothing; the others, in
     * increasing i, read the row as double, e_j = exp(x_j − max), total = Σ e_j (j = 0..V−1 in order),
     * u = nextDouble() · total, and take the first j where u −= e_j turns u negative, else V − 1: bit for bit the
     * Java loop of the K-FAC collector's label sampling. Sequential over rows on every backend (the order of the
     * draws is part of the result). out may be mask.
     */
    void sampleSoftmaxRows(Tensor out, Tensor logits, Tensor mask, long streamSeed);

    /**
     * One AdamW step (decoupled weight decay, bias correction) on a parameter tensor, all tensors of one shape:
     * m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; p ← p − lr·(m̂/(√v̂ + ε) + λ·p) with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ).
     * Updates param, m and v in place; {@code step} t counts from 1.
     */
    void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, double lr, double beta1, double beta2, double eps,
               double weightDecay, long step);

    /** Σ of all elements, accumulated in double. */
    double sum(Tensor a);

    /** Σ a ⊙ b, accumulated in double. */
    double dot(Tensor a, Tensor b);

    /**
     * Σ over {@code tensors} of Σ x², accumulated in double (a gradient norm is its square root). Like {@link #sum}
     * and {@link #dot}, each tensor's sum is its block partials added in block order, and the tensors' sums are
     * added in list order: the result does not depend on the thread count. An empty list gives 0.
     */
    double sumOfSquares(java.util.List<Tensor> tensors);

    /**
     * Throws {@link NonFiniteTensorException} if {@code t} holds NaN or ±Inf, naming the tensor, the first bad
     * element's coordinates and the counts; {@code purpose} says what was about to happen ("eigendecomposition").
     */
    void requireFinite(Tensor t, String purpose);

    @Override
    void close();
}
