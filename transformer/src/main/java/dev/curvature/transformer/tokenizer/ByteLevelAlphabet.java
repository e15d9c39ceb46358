package dev.curvature.transformer.tokenizer;

/**
 * GPT-2's byte-to-unicode table ({@code bytes_to_unicode} in openai/gpt-2 {@code encoder.py}): every byte gets a
 * printable character, so that vocabulary entries are strings free of whitespace and control characters. The 188
 * printable Latin-1 bytes ({@code '!'..'~'}, {@code '¡'..'¬'}, {@code '®'..'ÿ'}) stand for themselves; the other
 * 68 bytes, in increasing order, become U+0100, U+0101, … U+0143 (so space 0x20 is 'Ġ' U+0120, '\n' is 'Ċ').
 */
final class ByteLevelAlphabet {
    private static final char[] CHAR_OF_BYTE = new char[256];
    private static final int[] BYTE_OF_CHAR = new int[0x144];

    static {
        java.util.Arrays.fill(BYTE_OF_CHAR, -1);
        int next = 0x100;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) next++;
            CHAR_OF_BYTE[b] = c;
            BYTE_OF_CHAR[c] = b;
        }
    }

    private ByteLevelAlphabet() {
    }

    /** The character that stands for byte {@code b} (0..255). */
    static char charOf(int b) {
        return CHAR_OF_BYTE[b];
    }

    /** The byte that character {@code c} stands for, or -1 when {@code c} is not in the alphabet. */
    static int byteOf(char c) {
        return c < BYTE_OF_CHAR.length ? BYTE_OF_CHAR[c] : -1;
    }

    /** The bytes a vocabulary entry stands for, or null when one of its characters is not in the alphabet. */
    static byte[] bytesOf(String token) {
        byte[] bytes = new byte[token.length()];
        for (int i = 0; i < bytes.length; i++) {
            int b = byteOf(token.charAt(i));
            if (b < 0) {
                return null;
            }
            bytes[i] = (byte) b;
        }
        return bytes;
    }
}
