package dev.curvature.transformer.checkpoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reference: the {@code config.json} of Hugging Face's {@code openai-community/gpt2} (reproduced below) and HF
 * {@code GPT2Config}'s documented defaults and semantics ({@code n_inner} null = 4·n_embd).
 */
class Gpt2ConfigTest {
    @TempDir
    Path dir;

    static final String HF_GPT2_CONFIG = """
            {
              "activation_function": "gelu_new",
              "architectures": [
                "GPT2LMHeadModel"
              ],
              "attn_pdrop": 0.1,
              "bos_token_id": 50256,
              "embd_pdrop": 0.1,
              "eos_token_id": 50256,
              "initializer_range": 0.02,
              "layer_norm_epsilon": 1e-05,
              "model_type": "gpt2",
              "n_ctx": 1024,
              "n_embd": 768,
              "n_head": 12,
              "n_layer": 12,
              "n_positions": 1024,
              "resid_pdrop": 0.1,
              "summary_activation": null,
              "summary_first_dropout": 0.1,
              "summary_proj_to_labels": true,
              "summary_type": "cls_index",
              "summary_use_proj": true,
              "task_specific_params": {
                "text-generation": {
                  "do_sample": true,
                  "max_length": 50
                }
              },
              "vocab_size": 50257
            }
            """;

    private Path config(String json) throws IOException {
        return Files.writeString(dir.resolve("config-" + System.nanoTime() + ".json"), json);
    }

    @Test
    void readsTheHuggingFaceGpt2SmallConfig() throws IOException {
        Gpt2Config c = Gpt2Config.read(config(HF_GPT2_CONFIG));
        assertEquals(new Gpt2Config(12, 12, 768, 50257, 1024, 3072, 1e-5, "gelu_new"), c);
        assertEquals(64, c.headSize());
        assertEquals(Gpt2Config.of(12, 12, 768, 50257, 1024), c);
    }

    @Test
    void writtenConfigReadsBackEqual() throws IOException {
        Path file = dir.resolve("config.json");
        Gpt2Config c = new Gpt2Config(2, 4, 32, 101, 16, 80, 1e-6, "gelu_pytorch_tanh");
        c.write(file);
        assertEquals(c, Gpt2Config.read(file));
        String json = Files.readString(file);
        assertTrue(json.contains("\"model_type\": \"gpt2\"") && json.contains("\"n_inner\": 80"), json);
        Gpt2Config.of(2, 4, 32, 101, 16).write(file);
        assertTrue(Files.readString(file).contains("\"n_inner\": null"));
        assertEquals(Gpt2Config.of(2, 4, 32, 101, 16), Gpt2Config.read(file));
    }

    @Test
    void absentFieldsTakeHuggingFaceDefaults() throws IOException {
        Gpt2Config c = Gpt2Config.read(config("{\"n_layer\": 2, \"n_embd\": 64, \"n_head\": 4}"));
        assertEquals(new Gpt2Config(2, 4, 64, 50257, 1024, 256, 1e-5, "gelu_new"), c);
    }

    private void assertRejected(String json, String... fragments) throws IOException {
        Path file = config(json);
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> Gpt2Config.read(file));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        for (String fragment : fragments) {
            assertTrue(e.getMessage().contains(fragment), "says '" + fragment + "': " + e.getMessage());
        }
    }

    @Test
    void activationsOtherThanTanhGeluAreRefused() throws IOException {
        assertRejected(HF_GPT2_CONFIG.replace("\"gelu_new\"", "\"gelu\""), "activation_function 'gelu' is not supported",
                "gelu_new", "gelu_pytorch_tanh", "erf");
        assertRejected(HF_GPT2_CONFIG.replace("\"gelu_new\"", "\"relu\""), "activation_function 'relu'");
        assertEquals("gelu_pytorch_tanh", Gpt2Config.read(config(HF_GPT2_CONFIG.replace("\"gelu_new\"",
                "\"gelu_pytorch_tanh\""))).activationFunction());
    }

    @Test
    void inconsistentOrIllTypedFieldsAreRefused() throws IOException {
        assertRejected(HF_GPT2_CONFIG.replace("\"n_embd\": 768", "\"n_embd\": 770"), "n_embd 770 is not divisible by n_head 12");
        assertRejected(HF_GPT2_CONFIG.replace("\"n_layer\": 12", "\"n_layer\": 0"), "n_layer must be positive");
        assertRejected(HF_GPT2_CONFIG.replace("\"n_layer\": 12", "\"n_layer\": \"12\""), "n_layer must be an integer");
        assertRejected(HF_GPT2_CONFIG.replace("\"n_layer\": 12", "\"n_layer\": 12.5"), "n_layer must be an integer");
        assertRejected(HF_GPT2_CONFIG.replace("\"vocab_size\": 50257", "\"vocab_size\": 5000000000"), "vocab_size");
        assertRejected(HF_GPT2_CONFIG.replace("1e-05", "-1e-05"), "layer_norm_epsilon must be positive");
        assertRejected(HF_GPT2_CONFIG.replace("\"gpt2\"", "\"llama\""), "model_type is 'llama'");
        assertRejected("{\"n_layer\": 2,", "not valid JSON");
        assertRejected("[]", "not a JSON object");
    }

    @Test
    void constructorValidatesProgrammaticConfigs() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Gpt2Config.of(2, 3, 32, 10, 8));
        assertTrue(e.getMessage().contains("n_embd 32 is not divisible by n_head 3"), e.getMessage());
    }
}
