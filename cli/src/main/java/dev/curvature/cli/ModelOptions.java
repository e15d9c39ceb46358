package dev.curvature.cli;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.transformer.gpt2.Gpt2Checkpoints;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.tokenizer.BytePairTokenizer;
import dev.curvature.transformer.tokenizer.ByteTokenizer;
import dev.curvature.transformer.tokenizer.Tokenizer;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Options shared by commands that load a model: where it is, the compute dtype, threads, tokenizer. */
final class ModelOptions {
    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "Model directory in Hugging Face layout (config.json + model.safetensors or a shard index).")
    Path model;

    @Option(names = "--dtype", defaultValue = "F32", paramLabel = "F32|F64",
            description = "Compute dtype (default: ${DEFAULT-VALUE}); F64 is the audit of an F32 run.")
    DType dtype;

    @picocli.CommandLine.Mixin
    BackendOptions compute;

    @Option(names = "--tokenizer", paramLabel = "FILE|bytes",
            description = "tokenizer.json, or 'bytes' for one token per byte (default: the model directory's "
                    + "tokenizer.json, else bytes when the vocabulary has 256 entries).")
    String tokenizer;

    Backend backend() {
        return compute.backend();
    }

    Gpt2Model load(Backend backend) throws IOException {
        if (dtype != DType.F32 && dtype != DType.F64) {
            throw new IllegalArgumentException("--dtype must be F32 or F64, got " + dtype);
        }
        return Gpt2Checkpoints.load(backend, model, dtype);
    }

    Tokenizer tokenizer(int vocabularySize) throws IOException {
        if ("bytes".equals(tokenizer)) {
            return new ByteTokenizer();
        }
        if (tokenizer != null) {
            return BytePairTokenizer.fromTokenizerJson(Path.of(tokenizer));
        }
        Path beside = model.resolve("tokenizer.json");
        if (Files.exists(beside)) {
            return BytePairTokenizer.fromTokenizerJson(beside);
        }
        if (vocabularySize == 256) {
            return new ByteTokenizer();
        }
        throw new IllegalArgumentException(model + " has no tokenizer.json and a vocabulary of " + vocabularySize
                + " (not bytes): pass --tokenizer FILE");
    }
}
