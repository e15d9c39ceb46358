package dev.curvature.transformer.tokenizer;

import java.nio.charset.StandardCharsets;

/** One token per UTF-8 byte (vocabulary 256): the tokenizer of small models trained from scratch. */
public final class ByteTokenizer implements Tokenizer {
    @Override
    public int[] encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            ids[i] = bytes[i] & 0xFF;
        }
        return ids;
    }

    @Override
    public byte[] decode(int[] ids) {
        byte[] bytes = new byte[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] > 255) {
                throw new IllegalArgumentException("token id " + ids[i] + " at position " + i
                        + " is not a byte (the byte tokenizer's vocabulary is 0..255)");
            }
            bytes[i] = (byte) ids[i];
        }
        return bytes;
    }

    @Override
    public int vocabularySize() {
        return 256;
    }
}
