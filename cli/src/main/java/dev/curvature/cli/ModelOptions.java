package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.tokenizer.ModelTokenizer;
import dev.curvature.transformer.tokenizer.Tokenizer;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;

/** Options shared by commands that load a model: where it is, the compute dtype, threads, tokenizer. */
final class ModelOptions {
    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "Model directory in Hugging Face layout (config.json + model.safetensors or a shard index); "
                    + "model_type gpt2, llama or olmo2.")
    Path model;

    @Option(names = "--dtype", defaultValue = "F32", paramLabel = "F32|F64",
            description = "Compute dtype (default: ${DEFAULT-VALUE}); F64 is the audit of an F32 run.")
    DType dtype;

    @picocli.CommandLine.Mixin
    BackendOptions compute;

    @Option(names = "--tokenizer", paramLabel = "FILE|bytes",
            description = "tokenizer.json, or 'bytes' for one token per byte (default: the model directory's "
                    + "tokenizer.json, with BOS/EOS from its tokenizer_config.json, else bytes when the vocabulary "
                    + "has 256 entries).")
    String tokenizer;

    /** The tokenizer file given with --tokenizer (null for 'bytes' or the model directory's own). */
    Path tokenizerFile() {
        return tokenizer == null || "bytes".equals(tokenizer) ? null : Path.of(tokenizer);
    }

    Backend backend() {
        return compute.backend();
    }

    /** The worker count {@link #backend()} will have. */
    int threads() {
        return compute.threads();
    }

    /** The compute dtype, checked: F32 or F64. */
    DType computeDtype() {
        if (dtype != DType.F32 && dtype != DType.F64) {
            throw new IllegalArgumentException("--dtype must be F32 or F64, got " + dtype);
        }
        return dtype;
    }

    /** The model of any supported family (by config.json's model_type), computing in {@link #computeDtype()}. */
    Model load(Backend backend) throws IOException {
        return ModelCheckpoints.load(backend, model, computeDtype());
    }

    Tokenizer tokenizer(int vocabularySize) throws IOException {
        return tokenizer(model, tokenizer, vocabularySize);
    }

    /**
     * The tokenizer of model directory {@code model} under a --tokenizer value ({@code option}: a tokenizer.json,
     * 'bytes', or null for the directory's own tokenizer.json, else bytes when the vocabulary has 256 entries).
     */
    static Tokenizer tokenizer(Path model, String option, int vocabularySize) throws IOException {
        return ModelTokenizer.load(model, option, vocabularySize);
    }

    /**
     * The identity of what {@link #tokenizer} read, recorded in factor descriptions: "bytes" for one token per byte,
     * else "sha256:…" over the tokenizer file's bytes followed by those of the model directory's
     * tokenizer_config.json when that was read too (it sets BOS/EOS).
     */
    String tokenizerDigest(Tokenizer loaded) throws IOException {
        return ModelTokenizer.digest(model, tokenizer, loaded);
    }
}
