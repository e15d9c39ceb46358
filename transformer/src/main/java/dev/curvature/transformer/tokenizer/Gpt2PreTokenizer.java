package dev.curvature.transformer.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * GPT-2's pre-tokenizer: a regex cuts text into pieces (contractions, a word with its leading space, a number, a run
 * of other symbols, whitespace), and BPE then encodes each piece on its own.
 *
 * <p>The reference pattern (openai/gpt-2 {@code encoder.py}, Python {@code regex} module) is
 * <pre>{@code 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+}</pre>
 * Java's {@code \s} means only {@code [ \t\n\x0B\f\r]}, so it is spelled {@code \p{IsWhite_Space}} here: the Unicode
 * White_Space property, which is what Python's {@code regex} module and Oniguruma (Hugging Face tokenizers) match.
 * JavaScript's {@code \s} (the npm gpt-3-encoder port) differs on two characters: it counts U+FEFF and not U+0085.
 * {@code \p{L}} and {@code \p{N}} are general categories and match whole code points in Java as in the references.
 * Categories come from the running JDK's Unicode tables, so a code point assigned in one Unicode version and not in
 * another (a new CJK extension, say) can split differently from a reference built on other tables.
 */
final class Gpt2PreTokenizer {
    private static final String WHITE_SPACE = "\\p{IsWhite_Space}";
    private static final String NOT_WHITE_SPACE = "\\P{IsWhite_Space}";
    private static final Pattern PATTERN = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" + WHITE_SPACE + "\\p{L}\\p{N}]+"
                    + "|" + WHITE_SPACE + "+(?!" + NOT_WHITE_SPACE + ")|" + WHITE_SPACE + "+");

    private Gpt2PreTokenizer() {
    }

    /**
     * Splits {@code text[from, to)} into pieces, in order; together they cover the range exactly (every character
     * falls in one of the pattern's classes). The range is treated as a whole text: the lookahead does not see past
     * {@code to}, as when the segments between added tokens are pre-tokenized separately.
     */
    static void split(CharSequence text, int from, int to, PreTokenizer.PieceSink sink) {
        Matcher m = PATTERN.matcher(text).region(from, to);
        while (m.find()) {
            sink.accept(m.start(), m.end());
        }
    }

    /** The pieces of {@code text} as strings. */
    static List<String> pieces(String text) {
        List<String> pieces = new ArrayList<>();
        split(text, 0, text.length(), (start, end) -> pieces.add(text.substring(start, end)));
        return pieces;
    }
}
