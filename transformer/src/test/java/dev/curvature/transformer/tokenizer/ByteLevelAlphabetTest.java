package dev.curvature.transformer.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * GPT-2's byte-to-unicode table. Reference: values of openai/gpt-2's {@code bytes_to_unicode()} as seen in GPT-2's
 * vocabulary ('Ġ' for space, 'Ċ' for newline) and computed by hand from its definition.
 */
class ByteLevelAlphabetTest {

    @Test
    void mapsBytesToGpt2sCharacters() {
        assertEquals('!', ByteLevelAlphabet.charOf('!'));
        assertEquals('A', ByteLevelAlphabet.charOf('A'));
        assertEquals('\u00ff', ByteLevelAlphabet.charOf(0xFF));
        assertEquals('\u0100', ByteLevelAlphabet.charOf(0x00)); // 'Ā': first unprintable byte
        assertEquals('\u010A', ByteLevelAlphabet.charOf('\n')); // 'Ċ'
        assertEquals('\u0120', ByteLevelAlphabet.charOf(' '));  // 'Ġ': bytes 0x00..0x20 are the first 33
        assertEquals('\u0121', ByteLevelAlphabet.charOf(0x7F)); // 'ġ'
        assertEquals('\u0142', ByteLevelAlphabet.charOf(0xA0)); // 'ł': 0x80..0xA0 follow
        assertEquals('\u0143', ByteLevelAlphabet.charOf(0xAD)); // 'Ń': the last, soft hyphen
    }

    @Test
    void isABijectionOntoItsCharacters() {
        Set<Character> chars = new HashSet<>();
        for (int b = 0; b < 256; b++) {
            char c = ByteLevelAlphabet.charOf(b);
            chars.add(c);
            assertEquals(b, ByteLevelAlphabet.byteOf(c));
        }
        assertEquals(256, chars.size());
        assertEquals(-1, ByteLevelAlphabet.byteOf(' '));
        assertEquals(-1, ByteLevelAlphabet.byteOf('\u0144'));
    }

    @Test
    void tokenStringsDecodeToTheirBytes() {
        assertArrayEquals(" hello\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII),
                ByteLevelAlphabet.bytesOf("\u0120hello\u010A"));
        assertArrayEquals(new byte[] {(byte) 0xC3, (byte) 0xA9}, ByteLevelAlphabet.bytesOf("\u00C3\u00A9")); // é
        assertNull(ByteLevelAlphabet.bytesOf("a b")); // a real space is not in the alphabet
    }
}
