package dev.curvature.transformer.tokenizer;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Lenient UTF-8 decoding with byte offsets, and UTF-8 encoding of Java strings. */
class Utf8TextTest {

    /** Hex bytes and their decoding. Reference: Python 3 {@code bytes.decode("utf-8", "replace")} and WHATWG
     *  TextDecoder (node 20), which agree on every row. The JDK's decoder differs on truncated ED sequences at the end
     *  of input ("edb9" gives one U+FFFD there), so it is not the reference here. */
    private static final String[][] DECODINGS = {
            {"96edb9", "\uFFFD\uFFFD\uFFFD"},
            {"edb9", "\uFFFD\uFFFD"},
            {"eda080", "\uFFFD\uFFFD\uFFFD"},
            {"ed9fbf", "\uD7FF"},
            {"e080", "\uFFFD\uFFFD"},
            {"e09f", "\uFFFD\uFFFD"},
            {"e0a080", "\u0800"},
            {"efbfbf", "\uFFFF"},
            {"f09f98", "\uFFFD"},
            {"f09f9841", "\uFFFDA"},
            {"f08f", "\uFFFD\uFFFD"},
            {"f0908080", "\uD800\uDC00"},
            {"f48fbfbf", "\uDBFF\uDFFF"},
            {"f4908080", "\uFFFD\uFFFD\uFFFD\uFFFD"},
            {"f5", "\uFFFD"},
            {"ff", "\uFFFD"},
            {"c0af", "\uFFFD\uFFFD"},
            {"c1bf", "\uFFFD\uFFFD"},
            {"c27f", "\uFFFD\u007F"},
            {"c2", "\uFFFD"},
            {"dfbf", "\u07FF"},
            {"e282ac80", "\u20AC\uFFFD"},
            {"e28241", "\uFFFDA"},
            {"61f09f98806280", "a\uD83D\uDE00b\uFFFD"},
    };

    @Test
    void lenientDecodingReplacesEachMaximalIllFormedSubpartWithOneReplacementCharacter() {
        for (String[] row : DECODINGS) {
            assertEquals(row[1], Utf8Text.decode(HexFormat.of().parseHex(row[0])).text(), row[0]);
        }
    }

    @Test
    void byteOffsetsOfValidUtf8PointAtEachCodePointsFirstByte() {
        // reference: the UTF-8 length of the prefix before each code point, from String.getBytes
        String text = "a\u00e9\u6f22\uD83D\uDE00 z\u0301";
        Utf8Text decoded = Utf8Text.decode(text.getBytes(StandardCharsets.UTF_8));
        assertEquals(text, decoded.text());
        for (int i = 0; i <= text.length(); i = i < text.length() ? text.offsetByCodePoints(i, 1) : i + 1) {
            int expected = text.substring(0, i).getBytes(StandardCharsets.UTF_8).length;
            assertEquals(expected, decoded.byteOffset(i), "char " + i);
        }
    }

    @Test
    void byteOffsetsOfInvalidBytesCoverEachReplacedSubsequence() {
        // "a", F0 9F 98 (truncated emoji: one maximal subpart), "b", 80 (lone continuation byte)
        byte[] bytes = {'a', (byte) 0xF0, (byte) 0x9F, (byte) 0x98, 'b', (byte) 0x80};
        Utf8Text decoded = Utf8Text.decode(bytes);
        assertEquals("a\uFFFDb\uFFFD", decoded.text());
        assertArrayEquals(new int[] {0, 1, 4, 5, 6},
                new int[] {decoded.byteOffset(0), decoded.byteOffset(1), decoded.byteOffset(2), decoded.byteOffset(3),
                        decoded.byteOffset(4)});
    }

    @Test
    void encodingWritesLoneSurrogatesAsReplacementCharacterBytes() {
        // reference: WHATWG TextEncoder, as in node: new TextEncoder().encode("a\ud800b") = [97, 239, 191, 189, 98]
        assertArrayEquals(new byte[] {97, (byte) 239, (byte) 191, (byte) 189, 98}, Utf8Text.encode("a\uD800b").bytes());
        // a valid pair is one 4-byte sequence (U+1F600 = F0 9F 98 80)
        assertArrayEquals(new byte[] {(byte) 0xF0, (byte) 0x9F, (byte) 0x98, (byte) 0x80},
                Utf8Text.encode("\uD83D\uDE00").bytes());
    }

    @Test
    void encodingMatchesTheJdkOnWellFormedStrings() {
        // reference: String.getBytes(UTF_8) on random code points from every plane
        Random random = new Random(11L);
        for (int trial = 0; trial < 2000; trial++) {
            StringBuilder s = new StringBuilder();
            for (int i = random.nextInt(20); i > 0; i--) {
                int cp = random.nextInt(0x110000);
                s.appendCodePoint(cp >= 0xD800 && cp < 0xE000 ? 'q' : cp);
            }
            String text = s.toString();
            assertArrayEquals(text.getBytes(StandardCharsets.UTF_8), Utf8Text.encode(text).bytes(), text);
        }
    }
}
