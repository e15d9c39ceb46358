package dev.curvature.transformer.tokenizer;

import java.util.Objects;

/**
 * A token matched literally in the text before pre-tokenization, such as {@code <|endoftext|>}: its content never
 * goes through the regex or BPE, it becomes {@code id} directly.
 *
 * @param special whether the file marks it special (control tokens such as end-of-text); both kinds are split out
 */
public record AddedToken(int id, String content, boolean special) {
    public AddedToken {
        Objects.requireNonNull(content, "content");
        if (id < 0) {
            throw new IllegalArgumentException("added token '" + content + "' has negative id " + id);
        }
        if (content.isEmpty()) {
            throw new IllegalArgumentException("added token " + id + " has empty content");
        }
    }
}
