package dev.curvature.transformer.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cl100k pattern as Llama 3's and OLMo-2's tokenizer.json write it, read by java.util.regex. Reference: the
 * pieces npm @huggingface/tokenizers 0.2.0 gives (its {@code pre_tokenizer}), checked by hand against the pattern.
 */
class RegexSplitPreTokenizerTest {
    static final String CL100K = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"
            + " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final RegexSplitPreTokenizer SPLIT = RegexSplitPreTokenizer.ofRegex(CL100K);

    @Test
    void contractionsMatchInAnyAsciiCase() {
        assertEquals(List.of("DON", "'T", " I", "'LL", " we", "'Ve"), SPLIT.pieces("DON'T I'LL we'Ve"));
    }

    @Test
    void longSIsNotTheContractionS() {
        // (?i:'s) folds ASCII only, as the reference does: "'ſx" is one word piece, "'Sx" is 'S + x
        assertEquals(List.of("it", "'\u017fx", " IT", "'S", "x"), SPLIT.pieces("it'\u017fx IT'Sx"));
    }

    @Test
    void aWordTakesOneLeadingNonLetterAndDigitsComeInThrees() {
        assertEquals(List.of("(abc", " def", "123", "456", "7"), SPLIT.pieces("(abc def1234567"));
        assertEquals(List.of("\uD83D\uDE00hello"), SPLIT.pieces("\uD83D\uDE00hello")); // a code point, not a char
    }

    @Test
    void lineBreaksStayWithThePunctuationOrSpacesBeforeThem() {
        assertEquals(List.of("end", ".\n\n", "next", " \r\n", "x"), SPLIT.pieces("end.\n\nnext \r\nx"));
        assertEquals(List.of("a", "  ", " b", "  "), SPLIT.pieces("a   b  "));
    }

    @Test
    void whiteSpaceIsTheUnicodePropertyNotJavasAsciiSet() {
        // U+0085 is White_Space, U+FEFF is not (the reference agrees; JavaScript's own \s says the opposite)
        assertEquals(List.of("a", "\u0085b", "\uFEFFc"), SPLIT.pieces("a\u0085b\uFEFFc"));
        assertEquals(List.of("x", "\u3000", "\u3000y"), SPLIT.pieces("x\u3000\u3000y"));
    }

    @Test
    void escapesWhoseMeaningDiffersAreRefusedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> RegexSplitPreTokenizer.ofRegex("\\w+|\\s+"));
        assertTrue(e.getMessage().contains("\\w at index 0"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> RegexSplitPreTokenizer.ofRegex("[[:alpha:]]+"));
        assertThrows(IllegalArgumentException.class, () -> RegexSplitPreTokenizer.ofRegex("(unclosed"));
    }

    @Test
    void textBetweenMatchesIsAPieceToo() {
        // Isolated: the gaps between matches are pieces of their own
        assertEquals(List.of("a", "-", "b", "-", "-"), RegexSplitPreTokenizer.ofLiteral("-").pieces("a-b--"));
    }
}
