package dev.curvature.kfac;

import dev.curvature.transformer.model.LinearLayer;
import dev.curvature.transformer.model.ModelConfig;

import java.util.HashSet;
import java.util.Set;

/**
 * The floating-point operations of one K-FAC collection step on a decoder-LM batch of B × T tokens, counted term by term
 * from the matrix products the engine actually runs (one multiply-add = 2 flops). Element-wise work (LayerNorm, GELU,
 * softmax, bias adds, cross-entropy, row gathers, the float64 fold of each float32 batch product) is O(N·C) or
 * O(n²) per step and left out: the counts are the GEMM/SYRK work a BLAS rate can be compared with.
 *
 * <p>With N = B·T rows, C = hidden size, Q = H·hs the query width, V = vocab, L blocks:
 * <pre>
 * forwardLinear    = Σ over every linear layer of 2N·d_in·d_out
 *                    GPT-2: c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj; Llama: q/k/v/o_proj, gate/up/down_proj
 * forwardAttention = L · 4·B·T²·Q
 *                    per head q kᵀ (T×hs by hs×T) and att·v (T×T by T×hs), over H query heads; the
 *                    full T×T product is computed (the causal mask is applied in the softmax), so all of it counts
 * forwardLmHead    = 2N·C·V
 *                    logits = finalNorm(x) · W_headᵀ
 * backward         = 2 · (forwardLinear + forwardAttention + forwardLmHead)
 *                    every forward product has two backward products of its size: dX = dY·W and dW += dYᵀX for the
 *                    linear layers and the LM head; d att = dy vᵀ, dv = attᵀ dy, dq = dS k, dk = dSᵀ q for attention
 * collectionBackward = forwardLinear + 2 · forwardAttention + forwardLmHead
 *                    the collector's backward forms no parameter gradient (only dX = dY·W of the linear layers and
 *                    the LM head), but all four attention products
 * covariance       = Σ over collected layers of (d_in(d_in+1) + d_out(d_out+1)) · k
 *                    A += XᵀX and G += ΓᵀΓ are symmetric rank-k updates (SYRK) of the upper triangle: an n×n upper
 *                    triangle from k rows is n(n+1)/2 dot products of length k, n(n+1)·k flops; k = counted positions;
 *                    a layer sharing its input with a collected layer (gate_proj with up_proj) shares its A
 * </pre>
 * A plain forward + backward step is {@code forward + backward}; a collection step is
 * {@code forward + collectionBackward + covariance}.
 *
 * @param forwardLinear    flops of the linear layers of every block, forward
 * @param forwardAttention flops of the two attention products of every block, forward
 * @param forwardLmHead    flops of the LM head, forward
 * @param backward         flops of every backward product (twice the forward)
 * @param covariance       flops of the SYRK updates of A and G of the collected layers
 */
public record CollectionStepFlops(double forwardLinear, double forwardAttention, double forwardLmHead, double backward,
                                  double covariance) {

    /**
     * The count for {@code config}, a batch of {@code batch} × {@code time} tokens of which {@code countedPositions}
     * have a target (the rows the covariances accumulate), and the linear layers {@code selection} collects.
     */
    public static CollectionStepFlops of(ModelConfig config, int batch, int time, long countedPositions,
                                         LayerSelection selection) {
        double n = (double) batch * time;
        double forwardLinear = 0;
        for (LinearLayer layer : config.linearLayers()) {
            forwardLinear += 2 * n * layer.dIn() * (double) layer.dOut();
        }
        double forwardAttention = config.layers() * 4.0 * batch * (double) time * time * config.attentionWidth();
        double forwardLmHead = 2 * n * config.hiddenSize() * (double) config.vocabSize();
        double backward = 2 * (forwardLinear + forwardAttention + forwardLmHead);
        double covariance = 0;
        Set<String> picked = new HashSet<>(selection.select(config.linearLayers()));
        Set<String> groupsWithA = new HashSet<>();
        for (LinearLayer layer : config.linearLayers()) {
            if (!picked.contains(layer.name())) {
                continue;
            }
            double dOut = layer.dOut();
            double dIn = layer.dIn();
            // the first collected layer of an input group (gate_proj / up_proj; q/k/v) forms the group's one A
            boolean ownA = groupsWithA.add(layer.inputGroup());
            covariance += ((ownA ? dIn * (dIn + 1) : 0) + dOut * (dOut + 1)) * countedPositions;
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

    /** The collector's backward: input gradients of every product, no weight gradients. */
    public double collectionBackward() {
        return forwardLinear + 2 * forwardAttention + forwardLmHead;
    }

    /** A forward + backward step that accumulates the factors (and forms no parameter gradient). */
    public double collectionStep() {
        return forward() + collectionBackward() + covariance;
    }
}
