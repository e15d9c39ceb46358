package dev.curvature.kfac;

import dev.curvature.transformer.checkpoint.Gpt2Config;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The flop count of a collection step against numbers worked out by hand; the options' checks of bad shapes. */
class CollectionStepFlopsTest {

    @Test
    void tinyConfigMatchesTheHandCount() {
        // reference: hand count for L = 2, C = 32, H = 2, V = 64, F = 4C = 128, batch 2 × 16 → N = 32 rows,
        // k = 2 × 15 = 30 counted positions, layers h.*.mlp.* (c_fc: 32 → 128, c_proj: 128 → 32)
        //   forward linear    2 · 2·32·(32·96 + 32·32 + 32·128 + 128·32) = 2 · 64 · 12,288 = 1,572,864
        //   forward attention 2 · 4·2·16²·32                             = 2 · 65,536       =   131,072
        //   LM head           2·32·32·64                                                     =   131,072
        //   backward          2 · (1,572,864 + 131,072 + 131,072)                             = 3,670,016
        //   covariance        2 · [(32·33 + 128·129) + (128·129 + 32·33)] · 30 = 2 · 35,136 · 30 = 2,108,160
        //   collection step   forward 1,835,008 + collection backward (1,572,864 + 2 · 131,072 + 131,072 =
        //                     1,966,080: no weight gradients) + covariance 2,108,160                = 5,909,248
        // tolerance: exact (every term is an integer far below 2⁵³)
        CollectionStepFlops flops = CollectionStepFlops.of(Gpt2Config.of(2, 2, 32, 64, 1024), 2, 16, 30,
                LayerSelection.parse("h.*.mlp.*"));
        assertEquals(1_572_864, flops.forwardLinear());
        assertEquals(131_072, flops.forwardAttention());
        assertEquals(131_072, flops.forwardLmHead());
        assertEquals(3_670_016, flops.backward());
        assertEquals(2_108_160, flops.covariance());
        assertEquals(5_505_024, flops.plainStep());
        assertEquals(1_966_080, flops.collectionBackward());
        assertEquals(5_909_248, flops.collectionStep());
    }

    @Test
    void covarianceCountsOnlyTheSelectedLayers() {
        // reference: h.1.mlp.c_fc alone, A 32×32 and G 128×128 from k = 30 rows: (32·33 + 128·129) · 30 = 527,040
        CollectionStepFlops flops = CollectionStepFlops.of(Gpt2Config.of(2, 2, 32, 64, 1024), 2, 16, 30,
                LayerSelection.parse("h.1.mlp.c_fc"));
        assertEquals(527_040, flops.covariance());
    }

    @Test
    void widthNotDivisibleByHeadsIsRefusedNamingBoth() {
        var e = assertThrows(IllegalArgumentException.class, () -> new CollectionThroughput.Options(2, 30, 4, 64, 2, 16,
                0, 1, dev.curvature.engine.CovariancePrecision.F32_WITH_F64_SUMS));
        assertTrue(e.getMessage().contains("width 30") && e.getMessage().contains("heads 4"), e.getMessage());
    }
}
