package dev.curvature.spark;

import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.DType;
import dev.curvature.kfac.EditDefaults;
import dev.curvature.kfac.FactorCollection;
import dev.curvature.kfac.KfacCollector;
import dev.curvature.kfac.LayerSelection;
import dev.curvature.kfac.MemoryPlan;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.model.LinearLayer;
import dev.curvature.transformer.model.ModelConfig;

import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.List;

/**
 * What a distributed collection computes, with every default already resolved on the driver (as {@code curvature
 * collect} resolves them), so that each executor runs exactly the one-machine request on its shard.
 *
 * @param model           model directory, at a path every executor sees or a Hadoop FileSystem URI
 * @param tokenizer       --tokenizer value (a tokenizer.json, "bytes", or null: the model directory's own)
 * @param dtype           compute dtype, F32 or F64
 * @param layers          glob patterns of the collected layers
 * @param labels          gold or sampled labels
 * @param seed            sampling seed
 * @param batch           windows per batch
 * @param time            tokens per window
 * @param maxTokens       tokens read per shard (0: all)
 * @param precision       covariance precision
 * @param checkpointEvery tokens between a shard's resumable checkpoints (0: never)
 */
public record CollectRequest(String model, String tokenizer, DType dtype, String layers, KfacCollector.Labels labels,
                             long seed, int batch, int time, long maxTokens, CovariancePrecision precision,
                             long checkpointEvery) implements Serializable {
    /**
     * The request with {@code curvature collect}'s defaults for whatever is null: layers, labels and window from the
     * model family ({@link EditDefaults}), precision exact for F64 or when {@code exact}.
     */
    public static CollectRequest resolve(String model, String tokenizer, DType dtype, String layers,
                                         KfacCollector.Labels labels, long seed, int batch, Integer time,
                                         long maxTokens, boolean exact, long checkpointEvery) throws IOException {
        if (dtype != DType.F32 && dtype != DType.F64) {
            throw new IllegalArgumentException("--dtype must be F32 or F64, got " + dtype);
        }
        if (batch < 1) {
            throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
        }
        ModelConfig config = ModelCheckpoints.readMatchingConfig(SharedInputs.localModel(model));
        EditDefaults defaults = EditDefaults.of(config);
        int window = time != null ? time : defaults.time();
        if (window < 2 || window > config.contextLength()) {
            throw new IllegalArgumentException("--time " + window + " must be in [2, " + config.contextLength()
                    + "] (the model's context)");
        }
        CovariancePrecision precision = exact || dtype == DType.F64 ? CovariancePrecision.F64_EXACT
                : CovariancePrecision.F32_WITH_F64_SUMS;
        return new CollectRequest(SharedInputs.isUri(model) ? model : Path.of(model).toAbsolutePath().toString(),
                tokenizer, dtype,
                layers != null ? layers : defaults.collectLayers(), labels != null ? labels : defaults.labels(),
                seed, batch, window, maxTokens, precision, checkpointEvery);
    }

    /** The library's options for this request; {@code tokenizerDigest} is what the executor's tokenizer read. */
    public FactorCollection.Options options(String tokenizerDigest) {
        return new FactorCollection.Options(layers, labels, seed, batch, time, maxTokens, precision, checkpointEvery,
                tokenizerDigest, false);
    }

    /**
     * The native memory one task needs (model, workspace, factors, scratch), from config.json alone, for a task
     * computing on {@code threads} cores.
     */
    public MemoryPlan memoryPlan(int threads) throws IOException {
        ModelConfig config = ModelCheckpoints.readMatchingConfig(SharedInputs.localModel(model));
        List<String> names = LayerSelection.parse(layers).select(config.linearLayers());
        List<LinearLayer> selected = config.linearLayers().stream().filter(l -> names.contains(l.name())).toList();
        return MemoryPlan.collection(config, dtype, batch, time, selected, precision, threads);
    }
}
