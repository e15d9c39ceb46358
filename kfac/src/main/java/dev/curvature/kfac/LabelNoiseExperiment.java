package dev.curvature.kfac;

import dev.curvature.engine.Backend;
import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.data.ImageDataset;
import dev.curvature.transformer.data.LabelNoise;
import dev.curvature.transformer.model.Batch;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.TokenRows;
import dev.curvature.transformer.model.Workspace;
import dev.curvature.transformer.train.ImageBatches;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The paper's ViT experiment (ALGORITHMS.md §1.4) on a classifier trained with symmetric label noise: K-FAC factors
 * over the training images (CLS token only by default), the edit of chosen layers, and three numbers before and
 * after each edit — the share of the noisy training images still predicted with their noisy label ("memorized"),
 * the share of them predicted with their true label ("true label"), and clean test accuracy — beside the SVD and
 * random controls at the same kept fraction ({@link EditSweep}).
 */
public final class LabelNoiseExperiment {
    private LabelNoiseExperiment() {
    }

    /** The three numbers of one model. */
    public record Scores(double memorized, double trueLabel, double testAccuracy, double cleanTrainAccuracy) {
    }

    /** Everything measured: the unedited model's scores and every edit's. */
    public record Result(Scores baseline, List<EditSweep.Variant<Scores>> variants, long factorRows) {
    }

    /**
     * @param train      training images, with {@code noise} applied to their labels
     * @param test       clean test images
     * @param sets       layer sets to edit
     * @param budgets    ρ values (or kept fractions)
     * @param rows       the factor rows: the CLS token (LABELLED, the paper's choice) or all tokens
     * @param labels     gold (the noisy training labels) or sampled from the model
     */
    public static Result run(Backend backend, Model model, ImageDataset train, LabelNoise noise, ImageDataset test,
                             List<EditSweep.LayerSet> sets, List<EditSweep.Budget> budgets, TokenRows rows,
                             KfacCollector.Labels labels, long seed, int batch,
                             EditSweep.Progress<Scores> progress) {
        List<String> layers = new ArrayList<>();
        sets.forEach(s -> s.layers().stream().filter(l -> !layers.contains(l)).forEach(layers::add));
        int time = model.config().contextLength();
        Map<String, FactorEigenbasis> bases = new LinkedHashMap<>();
        long factorRows;
        try {
            try (KfacCollector collector = new KfacCollector(backend, model, LayerSelection.parse(String.join(",",
                    layers)), labels, seed, CovariancePrecision.F32_WITH_F64_SUMS, rows)) {
                Workspace ws = null;
                try {
                    for (int from = 0; from < train.size(); from += batch) {
                        int size = Math.min(batch, train.size() - from);
                        if (ws == null || ws.batch() != size) {
                            if (ws != null) {
                                ws.close();
                            }
                            ws = model.workspace(size, time);
                        }
                        collector.collect(ws, ImageBatches.consecutive(train, noise.noisyLabels(), from, size));
                    }
                } finally {
                    if (ws != null) {
                        ws.close();
                    }
                }
                factorRows = collector.factors().values().iterator().next().positions();
                for (String layer : layers) {
                    bases.put(layer, FactorEigenbasis.of(backend, collector.factors().get(layer)));
                }
            }
            Scores baseline = scores(model, train, noise, test, batch);
            EditSweep<Model, Scores> sweep = new EditSweep<>(backend, model, bases,
                    m -> scores(m, train, noise, test, batch), seed);
            List<EditSweep.Variant<Scores>> variants = sweep.run(sets, budgets,
                    List.of(EditSweep.Method.KFAC, EditSweep.Method.SVD, EditSweep.Method.RANDOM), progress);
            return new Result(baseline, variants, factorRows);
        } finally {
            bases.values().forEach(FactorEigenbasis::close);
        }
    }

    /** The model's three numbers (and its accuracy on the clean training images, against their true labels). */
    public static Scores scores(Model model, ImageDataset train, LabelNoise noise, ImageDataset test, int batch) {
        int[] trainPredictions = predictions(model, train, batch);
        int[] testPredictions = predictions(model, test, batch);
        int memorized = 0;
        int trueLabel = 0;
        int cleanCorrect = 0;
        int clean = 0;
        for (int i = 0; i < train.size(); i++) {
            if (noise.isFlipped(i)) {
                memorized += trainPredictions[i] == noise.noisyLabels()[i] ? 1 : 0;
                trueLabel += trainPredictions[i] == noise.trueLabels()[i] ? 1 : 0;
            } else {
                clean++;
                cleanCorrect += trainPredictions[i] == noise.trueLabels()[i] ? 1 : 0;
            }
        }
        int correct = 0;
        for (int i = 0; i < test.size(); i++) {
            correct += testPredictions[i] == test.labels()[i] ? 1 : 0;
        }
        int flipped = Math.max(1, noise.flipped().length);
        return new Scores((double) memorized / flipped, (double) trueLabel / flipped, (double) correct / test.size(),
                clean == 0 ? Double.NaN : (double) cleanCorrect / clean);
    }

    /** The argmax class of every image, batch by batch (labels are not used: every image is run unscored). */
    public static int[] predictions(Model model, ImageDataset images, int batch) {
        Backend backend = model.backend();
        int time = model.config().contextLength();
        int[] out = new int[images.size()];
        int[] unlabelled = new int[images.size()];
        java.util.Arrays.fill(unlabelled, -1);
        try (Arena arena = Arena.ofShared()) {
            Tensor best = null;
            Workspace ws = null;
            try {
                for (int from = 0; from < images.size(); from += batch) {
                    int size = Math.min(batch, images.size() - from);
                    if (ws == null || ws.batch() != size) {
                        if (ws != null) {
                            ws.close();
                        }
                        ws = model.workspace(size, time);
                        best = backend.allocate(arena, DType.I32, size);
                    }
                    Batch.Images chunk = ImageBatches.consecutive(images, unlabelled, from, size);
                    model.forward(ws, chunk);
                    backend.rowArgmax(best, ws.logits());
                    System.arraycopy(backend.readInts(best), 0, out, from, size);
                }
            } finally {
                if (ws != null) {
                    ws.close();
                }
            }
        }
        return out;
    }
}
