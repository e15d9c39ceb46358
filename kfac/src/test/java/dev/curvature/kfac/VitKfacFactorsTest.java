package dev.curvature.kfac;

import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.NumericAssertions;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.checkpoint.SafetensorsFile;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.TokenRows;
import dev.curvature.transformer.model.Workspace;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.nio.file.Path;

import static dev.curvature.engine.NumericAssertions.relativeError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Gold-label K-FAC factors of the PyTorch ViT fixture (transformer/src/test/resources/vit-tiny: 2 blocks, 3 images of
 * which 2 are labelled) for every block linear layer, over the CLS token only (the paper's choice: 2 rows) and over
 * every token of the labelled images (10 rows): F64 exact accumulation rel ≤ 1e-10, F32 with float64 sums ≤ 1e-5.
 */
class VitKfacFactorsTest {
    static final CpuBackend backend = SharedCpuBackend.get();

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"LABELLED, cls, F64, F64_EXACT, expected-f64.safetensors, 1e-10",
            "ALL, all, F64, F64_EXACT, expected-f64.safetensors, 1e-10",
            "LABELLED, cls, F32, F32_WITH_F64_SUMS, expected-f32.safetensors, 1e-5",
            "ALL, all, F32, F32_WITH_F64_SUMS, expected-f32.safetensors, 1e-5"})
    void goldFactorsOverClsOrAllTokensMatchPyTorch(TokenRows rows, String key, DType dtype,
                                                   CovariancePrecision precision, String expectedFile,
                                                   double tolerance) throws Exception {
        Path dir = LlamaKfacFactorsTest.fixture("vit-tiny");
        Model model = ModelCheckpoints.load(backend, dir, dtype);
        try (var weights = model.parameters();
             KfacCollector collector = new KfacCollector(backend, model, LayerSelection.parse("vit.encoder.*"),
                     KfacCollector.Labels.GOLD, 0, precision, rows);
             Workspace act = model.workspace(3, model.config().contextLength());
             SafetensorsFile expected = SafetensorsFile.open(dir.resolve(expectedFile));
             Arena arena = Arena.ofConfined()) {
            double[] pixels = expected.tensor("pixel_values").toDoubleArray();
            int[] labels = NumericAssertions.intValues(expected.tensor("labels"));
            collector.collect(act, new Batch.Images(pixels, labels));
            assertEquals(12, collector.factors().size());
            long count = (long) expected.tensor("kfac." + key + ".count").toDoubleArray()[0];
            double worst = 0;
            for (KroneckerFactors f : collector.factors().values()) {
                assertEquals(count, f.positions(), f.layer());
                double a = relativeError(expected.tensor("kfac." + key + "." + f.layer() + ".A").toDoubleArray(),
                        LlamaKfacFactorsTest.symmetric(f.activations(), arena));
                double g = relativeError(expected.tensor("kfac." + key + "." + f.layer() + ".G").toDoubleArray(),
                        LlamaKfacFactorsTest.symmetric(f.gradients(), arena));
                assertTrue(a <= tolerance && g <= tolerance, f.layer() + ": A " + a + ", G " + g);
                worst = Math.max(worst, Math.max(a, g));
            }
            System.out.printf("ViT %s %s K-FAC gold factors vs PyTorch (12 layers, %d rows): worst relative error "
                    + "%.2e%n", rows, dtype, count, worst);
        }
    }
}
