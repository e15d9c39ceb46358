package dev.curvature.transformer.checkpoint;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Builds safetensors files byte by byte from the spec, independently of {@link SafetensorsWriter}: an 8-byte
 * little-endian header length, the header text as given (no padding added), then the data bytes as given.
 */
final class HandBuiltSafetensors {
    private final ByteArrayOutputStream data = new ByteArrayOutputStream();

    private HandBuiltSafetensors() {
    }

    /** The whole file: length prefix, {@code header} in UTF-8, {@code data}. */
    static byte[] file(String header, byte[] data) {
        return file(header.getBytes(StandardCharsets.UTF_8), data);
    }

    static byte[] file(byte[] header, byte[] data) {
        byte[] out = new byte[8 + header.length + data.length];
        long n = header.length;
        for (int i = 0; i < 8; i++) {
            out[i] = (byte) (n >>> (8 * i));
        }
        System.arraycopy(header, 0, out, 8, header.length);
        System.arraycopy(data, 0, out, 8 + header.length, data.length);
        return out;
    }

    /** A file whose length prefix says {@code n} whatever the header really is. */
    static byte[] fileWithLength(long n, String header, byte[] data) {
        byte[] out = file(header, data);
        for (int i = 0; i < 8; i++) {
            out[i] = (byte) (n >>> (8 * i));
        }
        return out;
    }

    static HandBuiltSafetensors data() {
        return new HandBuiltSafetensors();
    }

    /** Appends the low {@code bytes} bytes of {@code bits}, least significant first (little-endian). */
    HandBuiltSafetensors le(long bits, int bytes) {
        for (int i = 0; i < bytes; i++) {
            data.write((int) (bits >>> (8 * i)) & 0xFF);
        }
        return this;
    }

    HandBuiltSafetensors f64(double v) {
        return le(Double.doubleToRawLongBits(v), 8);
    }

    HandBuiltSafetensors f32(float v) {
        return le(Float.floatToRawIntBits(v), 4);
    }

    /** A 16-bit pattern (BF16 or F16), written as the bits given. */
    HandBuiltSafetensors u16(int bits) {
        return le(bits, 2);
    }

    HandBuiltSafetensors zeros(int count) {
        data.writeBytes(new byte[count]);
        return this;
    }

    byte[] bytes() {
        return data.toByteArray();
    }
}
