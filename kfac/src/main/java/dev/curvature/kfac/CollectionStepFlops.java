package dev.curvature.kfac;

import dev.curvature.transformer.checkpoint.Gpt2Config;
import dev.curvature.transformer.gpt2.Gpt2Parameters;

/**
 * The floating-point operations of one K-FAC collection step on a GPT-2 batch of B × T tokens, counted term by term
 * from the matrix products the engine actually runs (one multiply-add = 2 flops). Element-wise work (LayerNorm, GELU,
 * softmax, bias adds, cross-entropy, row gathers, the float64 fold of each float32 batch product) is O(N·C) or
 * O(n²) per step and left out: the counts are the GEMM/SYRK work a BLAS rate can be compared with.
 *
 * <p>With N = B·T rows, C = n_embd, F = n_inner, V = vocab, L blocks:
 * <pre>
 * forwardLinear    = L · 2N(C·3C + C·C + C·F + F·C)
 *                    c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj; y = x Wᵀ is 2N·d_in·d_out
 * forwardAttention = L · 4·B·T²·C
 *                    per head q kᵀ (T×hs by hs×T) and att·v (T×T by T×hs), over H heads of width hs = C/H; the
 *                    full T×T product is computed (the causal mask is applied in the softmax), so all of it counts
 * forwardLmHead    = 2N·C·V
 *                    logits = ln_f(x) · wteᵀ
 * backward         = 2 · (forwardLinear + forwardAttention + forwardLmHead)
 *                    every forward product has two backward products of its size: dX = dY·W and dW += dYᵀX for the
 *                    linear layers and the LM head; d att = dy vᵀ, dv = attᵀ dy, dq = dS k, dk = dSᵀ q for attention
 * covariance       = Σ over collected layers of (d_in(d_in+1) + d_out(d_out+1)) · k
 *                    A += XᵀX and G += ΓᵀΓ are symmetric rank-k updates (SYRK) of the upper triangle: an n×n upper
 *                    triangle from k rows is n(n+1)/2 dot products of length k, n(n+1)·k flops; k = counted positions
 * </pre>
 * A plain forward + backward step is {@code forward + backward}; a collection step adds {@code covariance}.
 *
 * @param forwardLinear    flops of the four linear layers of every block, forward
 * @param forwardAttention flops of the two attention products of every block, forward
 * @param forwardLmHead    flops of the tied LM head, forward
 * @param backward         flops of every backward product (twice the forward)
 * @param covariance       flops of the SYRK updates of A and G of the collected layers
 */
public record CollectionStepFlops(double forwardLinear, double forwardAttention, double forwardLmHead, double backward,
                                  double covariance) {

    /**
     * The count for {@code config}, a batch of {@code batch} × {@code time} tokens of which {@code countedPositions}
     * have a target (the rows the covariances accumulate), and the linear layers {@code selection} collects.
     */
    public static CollectionStepFlops of(Gpt2Config config, int batch, int time, long countedPositions,
                                         LayerSelection selection) {
        double n = (double) batch * time;
        double c = config.nEmbd();
        double f = config.nInner();
        double layers = config.nLayer();
        double forwardLinear = layers * 2 * n * (c * 3 * c + c * c + c * f + f * c);
        double forwardAttention = layers * 4.0 * batch * (double) time * time * c;
        double forwardLmHead = 2 * n * c * config.vocabSize();
        double backward = 2 * (forwardLinear + forwardAttention + forwardLmHead);
        var shapes = Gpt2Parameters.shapes(config);
        double covariance = 0;
        for (String layer : selection.select(KfacCollector.linearLayers(config))) {
            long[] weight = shapes.get(layer + ".weight");    // (d_out, d_in)
            double dOut = weight[0];
            double dIn = weight[1];
            covariance += (dIn * (dIn + 1) + dOut * (dOut + 1)) * countedPositions;
        }
        return new CollectionStepFlops(forwardLinear, forwardAttention, forwardLmHead, backward, covariance);
    }

    /** The forward products: linear layers, attention, LM head. */
    public double forward() {
        return forwardLinear + forwardAttention + forwardLmHead;
    }

    /** A forward + backward step with no observer. */
    public double plainStep() {
        return forward() + backward;
    }

    /** A forward + backward step that also accumulates the factors. */
    public double collectionStep() {
        return plainStep() + covariance;
    }
}
