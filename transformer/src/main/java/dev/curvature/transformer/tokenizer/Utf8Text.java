package dev.curvature.transformer.tokenizer;

/**
 * A text and its UTF-8 bytes side by side, with the byte offset at which every char of the text starts.
 *
 * <p>The pre-tokenizer regex runs on {@link #text()}; each piece it finds is then cut from {@link #bytes()} by
 * offsets, so the bytes handed to BPE are always the input's own bytes. That is what lets bytes that are not valid
 * UTF-8 round-trip: {@link #decode(byte[])} replaces each maximal ill-formed subsequence by one U+FFFD in the text
 * (the Unicode Standard's "maximal subpart" practice, as Python's decoder and WHATWG TextDecoder do) only to decide
 * where pieces end, while the piece keeps the original bytes. U+FFFD is a symbol (category So), so invalid bytes
 * pre-tokenize like punctuation: they join the neighbouring run of non-letter, non-digit, non-space characters.
 */
final class Utf8Text {
    private static final char REPLACEMENT = '\uFFFD';

    private final String text;
    private final byte[] bytes;
    private final int[] charStarts;

    private Utf8Text(String text, byte[] bytes, int[] charStarts) {
        this.text = text;
        this.bytes = bytes;
        this.charStarts = charStarts;
    }

    /**
     * A Java string with its UTF-8 encoding. A lone surrogate (not representable in UTF-8) is encoded as U+FFFD's
     * bytes EF BF BD, as JavaScript's TextEncoder does; Java's own {@code getBytes} would write '?'.
     */
    static Utf8Text encode(String text) {
        int n = text.length();
        byte[] out = new byte[Math.multiplyExact(n, 3)];
        int[] starts = new int[n + 1];
        int w = 0;
        for (int i = 0; i < n; i++) {
            starts[i] = w;
            char c = text.charAt(i);
            if (c < 0x80) {
                out[w++] = (byte) c;
            } else if (c < 0x800) {
                out[w++] = (byte) (0xC0 | (c >> 6));
                out[w++] = (byte) (0x80 | (c & 0x3F));
            } else if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(text.charAt(i + 1))) {
                int cp = Character.toCodePoint(c, text.charAt(i + 1));
                out[w++] = (byte) (0xF0 | (cp >> 18));
                out[w++] = (byte) (0x80 | ((cp >> 12) & 0x3F));
                out[w++] = (byte) (0x80 | ((cp >> 6) & 0x3F));
                out[w++] = (byte) (0x80 | (cp & 0x3F));
                starts[++i] = w; // the low surrogate: the regex never ends a piece inside a pair
            } else {
                char d = Character.isSurrogate(c) ? REPLACEMENT : c;
                out[w++] = (byte) (0xE0 | (d >> 12));
                out[w++] = (byte) (0x80 | ((d >> 6) & 0x3F));
                out[w++] = (byte) (0x80 | (d & 0x3F));
            }
        }
        starts[n] = w;
        return new Utf8Text(text, java.util.Arrays.copyOf(out, w), starts);
    }

    /** Raw bytes, decoded leniently: every maximal ill-formed subsequence becomes one U+FFFD in the text. */
    static Utf8Text decode(byte[] bytes) {
        int n = bytes.length;
        char[] chars = new char[n];
        int[] starts = new int[n + 1];
        int c = 0;
        int i = 0;
        while (i < n) {
            int b0 = bytes[i] & 0xFF;
            if (b0 < 0x80) {
                starts[c] = i;
                chars[c++] = (char) b0;
                i++;
                continue;
            }
            // Table 3-7 of the Unicode Standard: well-formed sequences and the range allowed for the second byte.
            int length;
            int lo = 0x80;
            int hi = 0xBF;
            int cp;
            if (b0 >= 0xC2 && b0 <= 0xDF) {
                length = 2;
                cp = b0 & 0x1F;
            } else if (b0 >= 0xE0 && b0 <= 0xEF) {
                length = 3;
                cp = b0 & 0x0F;
                if (b0 == 0xE0) {
                    lo = 0xA0;
                } else if (b0 == 0xED) {
                    hi = 0x9F;
                }
            } else if (b0 >= 0xF0 && b0 <= 0xF4) {
                length = 4;
                cp = b0 & 0x07;
                if (b0 == 0xF0) {
                    lo = 0x90;
                } else if (b0 == 0xF4) {
                    hi = 0x8F;
                }
            } else {
                length = 1; // 0x80..0xC1, 0xF5..0xFF never start a sequence
                cp = -1;
            }
            int k = 1;
            while (k < length && i + k < n) {
                int b = bytes[i + k] & 0xFF;
                if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) {
                    break;
                }
                cp = (cp << 6) | (b & 0x3F);
                k++;
            }
            starts[c] = i;
            if (cp < 0 || k < length) {
                chars[c++] = REPLACEMENT; // covers bytes i .. i+k-1, the maximal subpart
            } else if (cp >= 0x10000) {
                chars[c++] = Character.highSurrogate(cp);
                starts[c] = i;
                chars[c++] = Character.lowSurrogate(cp);
            } else {
                chars[c++] = (char) cp;
            }
            i += k;
        }
        starts[c] = n;
        return new Utf8Text(new String(chars, 0, c), bytes, java.util.Arrays.copyOf(starts, c + 1));
    }

    String text() {
        return text;
    }

    byte[] bytes() {
        return bytes;
    }

    /** Byte offset where the char at {@code charIndex} starts; {@code text().length()} gives {@code bytes().length}. */
    int byteOffset(int charIndex) {
        return charStarts[charIndex];
    }
}
