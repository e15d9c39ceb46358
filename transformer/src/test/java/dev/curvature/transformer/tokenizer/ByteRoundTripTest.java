package dev.curvature.transformer.tokenizer;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code decode(encode(bytes)) == bytes} for arbitrary bytes, valid UTF-8 or not, with GPT-2's vocabulary.
 * Reference: the input itself. Inputs: seeded random arrays of five kinds, 2,000 in all.
 */
class ByteRoundTripTest {
    private static final byte[][] TRICKY = {
            {(byte) 0xC0, (byte) 0x80},                           // overlong NUL
            {(byte) 0xED, (byte) 0xA0, (byte) 0x80},              // UTF-8 of a surrogate
            {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, // above U+10FFFF
            {(byte) 0xE2, (byte) 0x82},                           // truncated euro sign
            {(byte) 0xF0, (byte) 0x9F, (byte) 0x98},              // truncated emoji
            {(byte) 0x80}, {(byte) 0xBF}, {(byte) 0xFE}, {(byte) 0xFF}, {(byte) 0xF5},
            {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF},              // BOM
            {(byte) 0xC2, (byte) 0x85},                           // U+0085
            "<|endoftext|>".getBytes(StandardCharsets.US_ASCII),
            " \t\n\r ".getBytes(StandardCharsets.US_ASCII),
            "don't".getBytes(StandardCharsets.US_ASCII),
    };

    @Test
    void arbitraryBytesRoundTripThroughEncodeAndDecode() {
        BytePairTokenizer gpt2 = Gpt2Files.tokenizer();
        Random random = new Random(20240601L);
        for (int trial = 0; trial < 2000; trial++) {
            byte[] bytes = sample(random, trial % 5);
            int[] ids = gpt2.encode(bytes);
            int[] ordinary = gpt2.encodeOrdinary(bytes);
            for (int id : ids) {
                assertTrue(id >= 0 && id < gpt2.vocabularySize(), "id " + id);
            }
            String hex = HexFormat.of().formatHex(bytes);
            assertArrayEquals(bytes, gpt2.decode(ids), () -> "encode then decode of " + hex);
            assertArrayEquals(bytes, gpt2.decode(ordinary), () -> "encodeOrdinary then decode of " + hex);
        }
    }

    @Test
    void everySingleByteAndEveryBytePairRoundTrips() {
        // exhaustive over the 256 + 65,536 shortest inputs, where lenient UTF-8 decoding has its edge cases
        BytePairTokenizer gpt2 = Gpt2Files.tokenizer();
        for (int a = 0; a < 256; a++) {
            byte[] one = {(byte) a};
            assertArrayEquals(one, gpt2.decode(gpt2.encode(one)), "byte " + a);
            for (int b = 0; b < 256; b++) {
                byte[] two = {(byte) a, (byte) b};
                assertArrayEquals(two, gpt2.decode(gpt2.encode(two)), () -> Arrays.toString(two));
            }
        }
    }

    private static byte[] sample(Random random, int kind) {
        int length = random.nextInt(200);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        switch (kind) {
            case 0 -> { // uniform bytes: mostly invalid UTF-8
                byte[] b = new byte[length];
                random.nextBytes(b);
                out.writeBytes(b);
            }
            case 1 -> { // ASCII text with occasional high bytes
                for (int i = 0; i < length; i++) {
                    out.write(random.nextInt(10) == 0 ? 0x80 + random.nextInt(128) : 0x20 + random.nextInt(95));
                }
            }
            case 2 -> { // valid UTF-8 of random code points, then cut at a random byte and corrupted at another
                StringBuilder s = new StringBuilder();
                for (int i = 0; i < length / 2; i++) {
                    int cp = random.nextInt(0x110000);
                    s.appendCodePoint(Character.isSurrogate((char) cp) && cp < 0x10000 ? 'x' : cp);
                }
                byte[] b = s.toString().getBytes(StandardCharsets.UTF_8);
                b = Arrays.copyOf(b, b.length == 0 ? 0 : random.nextInt(b.length + 1));
                if (b.length > 0) {
                    b[random.nextInt(b.length)] = (byte) random.nextInt(256);
                }
                out.writeBytes(b);
            }
            case 3 -> { // a mix of tricky sequences and words
                for (int i = 0; i < length / 4; i++) {
                    out.writeBytes(TRICKY[random.nextInt(TRICKY.length)]);
                }
            }
            default -> { // valid UTF-8 text around the special token, with a stray continuation byte
                out.writeBytes("Hello ".getBytes(StandardCharsets.UTF_8));
                out.write(0x80 + random.nextInt(64));
                out.writeBytes("<|endoftext|>\u00e9\u6f22".getBytes(StandardCharsets.UTF_8));
                byte[] b = new byte[length / 8];
                random.nextBytes(b);
                out.writeBytes(b);
            }
        }
        return out.toByteArray();
    }
}
