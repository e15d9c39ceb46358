package dev.curvature.transformer.tokenizer;

import java.nio.charset.StandardCharsets;

/** Text ↔ token ids. */
public interface Tokenizer {
    /** The ids of {@code text}. */
    int[] encode(String text);

    /** The bytes the ids stand for (concatenated). */
    byte[] decode(int[] ids);

    /** Ids are in [0, vocabularySize()). */
    int vocabularySize();

    /** {@link #decode} read as UTF-8 (invalid sequences become U+FFFD). */
    default String decodeToString(int[] ids) {
        return new String(decode(ids), StandardCharsets.UTF_8);
    }
}
