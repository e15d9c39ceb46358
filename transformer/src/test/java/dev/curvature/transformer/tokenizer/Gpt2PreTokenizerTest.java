package dev.curvature.transformer.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * GPT-2's regex split in Java. Reference: Python's {@code regex} module (2026.5.9) running openai/gpt-2's pattern,
 * whose outputs are written out below ({@code regex.findall(pat, text)}).
 */
class Gpt2PreTokenizerTest {
    /** Code points Python's regex calls \s: {@code [c for c in range(0x110000) if regex.match(r'\s', chr(c))]} */
    private static final Set<Integer> PYTHON_REGEX_WHITESPACE = Set.of(0x9, 0xA, 0xB, 0xC, 0xD, 0x20, 0x85, 0xA0,
            0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028,
            0x2029, 0x202F, 0x205F, 0x3000);

    @Test
    void splitsLikePythonRegexOnHandPickedTexts() {
        assertEquals(List.of("Hello", " world", " ", " foo", "\n"), Gpt2PreTokenizer.pieces("Hello world  foo\n"));
        assertEquals(List.of("don", "'t", " I", "'", "LL", " we", "'ve"), Gpt2PreTokenizer.pieces("don't I'LL we've"));
        assertEquals(List.of("  ", " x"), Gpt2PreTokenizer.pieces("   x"));
        assertEquals(List.of("x", "   "), Gpt2PreTokenizer.pieces("x   "));
        assertEquals(List.of("3", ".", "14", " +", " 42", "!!"), Gpt2PreTokenizer.pieces("3.14 + 42!!"));
        assertEquals(List.of("\t", "\t", "def", " f", "():", "\n\t", "\t", "return", " 1", "\n\n"),
                Gpt2PreTokenizer.pieces("\t\tdef f():\n\t\treturn 1\n\n"));
        assertEquals(List.of("\u00e9", " e", "\u0301", " \uD83D\uDE00\uD83D\uDE00"),
                Gpt2PreTokenizer.pieces("\u00e9 e\u0301 \uD83D\uDE00\uD83D\uDE00"));
    }

    @Test
    void nextLineIsWhitespaceAndByteOrderMarkIsNotAsInPythonRegex() {
        // the two characters where JavaScript's \s (npm gpt-3-encoder) disagrees; the fixture avoids them
        assertEquals(List.of("a", "\u0085", "\u0085", "b"), Gpt2PreTokenizer.pieces("a\u0085\u0085b"));
        assertEquals(List.of("a", " \uFEFF\uFEFF", "b"), Gpt2PreTokenizer.pieces("a \uFEFF\uFEFFb"));
    }

    @Test
    void whitespaceIsExactlyWhatPythonRegexCallsWhitespace() {
        // "!" w w "!" splits into four pieces exactly when w is whitespace (other than ' ', which joins the "!")
        List<Integer> mismatches = new ArrayList<>();
        for (int cp = 0; cp < 0x110000; cp++) {
            if (cp == ' ' || (cp >= 0xD800 && cp < 0xE000)) {
                continue;
            }
            String w = Character.toString(cp);
            boolean splitAsWhitespace = Gpt2PreTokenizer.pieces("!" + w + w + "!").equals(List.of("!", w, w, "!"));
            if (splitAsWhitespace != PYTHON_REGEX_WHITESPACE.contains(cp)) {
                mismatches.add(cp);
            }
        }
        assertEquals(List.of(), mismatches);
        assertEquals(List.of("!", " ", " !"), Gpt2PreTokenizer.pieces("!  !"));
    }

    @Test
    void piecesOfARangeIgnoreTextOutsideIt() {
        // the lookahead in \s+(?!\S) must not see past the range: "a  " alone ends in a two-space piece
        String text = "a  <|endoftext|>b";
        List<String> pieces = new ArrayList<>();
        Gpt2PreTokenizer.split(text, 0, 3, (s, e) -> pieces.add(text.substring(s, e)));
        assertEquals(Gpt2PreTokenizer.pieces("a  "), pieces);
        assertEquals(List.of("a", "  "), pieces);
    }
}
