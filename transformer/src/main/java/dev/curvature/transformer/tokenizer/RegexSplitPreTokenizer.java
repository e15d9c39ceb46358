package dev.curvature.transformer.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A tokenizer.json {@code Split} pre-tokenizer with behaviour {@code Isolated} and {@code invert: false}: every match
 * of the regex is a piece, and so is every stretch of text between matches. Llama 3 and OLMo-2 use cl100k_base's
 * pattern
 * <pre>{@code (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+}</pre>
 * (a contraction, a word with at most one leading non-letter, up to three digits, a punctuation run with its line
 * breaks, line breaks with the spaces before them, other whitespace), followed by a {@code ByteLevel} step with
 * {@code use_regex: false} that only maps bytes to the byte-level alphabet.
 *
 * <p>The pattern is written for Oniguruma (Hugging Face tokenizers). Java's {@code java.util.regex} reads it the same
 * way except for {@code \s}, which in Java means only {@code [ \t\n\x0B\f\r]}; it is rewritten to the Unicode
 * White_Space property, which Oniguruma and the reference (@huggingface/tokenizers) match (so U+0085 is a space and
 * U+FEFF is not). {@code \p{L}} and {@code \p{N}} are general categories matched on whole code points in both.
 * {@code (?i:...)} folds ASCII letters only, as Java's default and the reference do: {@code 'ſ} (U+017F LONG S) is not
 * the contraction {@code 's} (Unicode simple case folding would equate them). Escapes whose meaning differs between
 * the engines ({@code \w \d \b \h \G \A \z \Z}, POSIX brackets) are refused rather than translated unchecked.
 */
final class RegexSplitPreTokenizer implements PreTokenizer {
    private static final String WHITE_SPACE = "\\p{IsWhite_Space}";
    private static final String NOT_WHITE_SPACE = "\\P{IsWhite_Space}";

    private final String source;
    private final Pattern pattern;

    private RegexSplitPreTokenizer(String source, Pattern pattern) {
        this.source = source;
        this.pattern = pattern;
    }

    /**
     * @param onigurumaPattern the {@code pattern.Regex} string of the tokenizer.json
     * @throws IllegalArgumentException naming the construct, for patterns this class does not translate
     */
    static RegexSplitPreTokenizer ofRegex(String onigurumaPattern) {
        try {
            return new RegexSplitPreTokenizer(onigurumaPattern, Pattern.compile(toJava(onigurumaPattern)));
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException("not a valid regex: " + e.getDescription() + " near index "
                    + e.getIndex(), e);
        }
    }

    /** A {@code pattern.String}: the literal text is the delimiter. */
    static RegexSplitPreTokenizer ofLiteral(String literal) {
        if (literal.isEmpty()) {
            throw new IllegalArgumentException("empty literal pattern");
        }
        return new RegexSplitPreTokenizer(literal, Pattern.compile(Pattern.quote(literal)));
    }

    @Override
    public void split(CharSequence text, int from, int to, PieceSink sink) {
        Matcher m = pattern.matcher(text).region(from, to);
        int end = from;
        while (m.find()) {
            if (m.start() == m.end()) {
                continue; // an empty match cuts nothing off
            }
            if (m.start() > end) {
                sink.accept(end, m.start());
            }
            sink.accept(m.start(), m.end());
            end = m.end();
        }
        if (to > end) {
            sink.accept(end, to);
        }
    }

    /** The pieces of {@code text} as strings. */
    List<String> pieces(String text) {
        List<String> pieces = new ArrayList<>();
        split(text, 0, text.length(), (start, end) -> pieces.add(text.substring(start, end)));
        return pieces;
    }

    /** The pattern as the tokenizer.json gives it. */
    String source() {
        return source;
    }

    static String toJava(String oniguruma) {
        StringBuilder out = new StringBuilder(oniguruma.length() + 32);
        for (int i = 0; i < oniguruma.length(); i++) {
            char c = oniguruma.charAt(i);
            if (c == '[' && oniguruma.startsWith("[:", i)) {
                throw new IllegalArgumentException("POSIX bracket expression at index " + i + " is not supported");
            }
            if (c != '\\') {
                out.append(c);
                continue;
            }
            if (i + 1 == oniguruma.length()) {
                throw new IllegalArgumentException("pattern ends in a lone backslash");
            }
            char e = oniguruma.charAt(++i);
            switch (e) {
                case 's' -> out.append(WHITE_SPACE);
                case 'S' -> out.append(NOT_WHITE_SPACE);
                case 'w', 'W', 'd', 'D', 'b', 'B', 'h', 'H', 'G', 'A', 'z', 'Z', 'X', 'R', 'K' ->
                        throw new IllegalArgumentException("\\" + e + " at index " + (i - 1)
                                + " is not supported (its meaning differs between Oniguruma and Java)");
                default -> out.append('\\').append(e);
            }
        }
        return out.toString();
    }
}
