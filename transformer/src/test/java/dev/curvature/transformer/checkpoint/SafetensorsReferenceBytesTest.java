package dev.curvature.transformer.checkpoint;

import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Reference: files built byte by byte from the safetensors spec ({@link HandBuiltSafetensors}), with values given
 * as IEEE bit patterns, and the header lengths of the serialisation vectors published in the tests of the reference
 * implementation (the {@code safetensors} Rust crate, {@code tensor.rs}: 64, 72, 8 and 40 bytes). Exact (bitwise).
 */
class SafetensorsReferenceBytesTest {
    @TempDir
    Path dir;

    private static String padded(String header) {
        return header + " ".repeat((8 - header.length() % 8) % 8);
    }

    private static byte[] f32Range(int count) {
        HandBuiltSafetensors data = HandBuiltSafetensors.data();
        for (int i = 0; i < count; i++) {
            data.f32(i);
        }
        return data.bytes();
    }

    /** The canonical file of several dtypes: F64 first, then F32, BF16, F16; by name inside a dtype. */
    private static final String CANONICAL_HEADER = "{\"__metadata__\":{\"format\":\"pt\"},"
            + "\"a.f64\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
            + "\"a.scalar\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[16,24]},"
            + "\"b.f32\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[24,40]},"
            + "\"c.bf16\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[40,46]},"
            + "\"d.f16\":{\"dtype\":\"F16\",\"shape\":[1,2],\"data_offsets\":[46,50]},"
            + "\"e.empty\":{\"dtype\":\"F16\",\"shape\":[0,4],\"data_offsets\":[50,50]}}";

    private static byte[] canonicalFile() {
        byte[] data = HandBuiltSafetensors.data()
                .f64(1.5).f64(-0.25)                        // a.f64
                .f64(2.0)                                   // a.scalar
                .f32(1f).f32(-2f).f32(0.5f).le(0x00000001, 4) // b.f32, last = smallest subnormal
                .u16(0x3F80).u16(0xC040).u16(0x7F80)        // c.bf16: 1, -3, +Inf
                .u16(0x3C00).u16(0xB800)                    // d.f16: 1, -0.5
                .bytes();
        return HandBuiltSafetensors.file(padded(CANONICAL_HEADER), data);
    }

    @Test
    void readsEveryDtypeOfAHandBuiltFile() throws IOException {
        Path file = Files.write(dir.resolve("model.safetensors"), canonicalFile());
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            assertEquals(List.of("a.f64", "a.scalar", "b.f32", "c.bf16", "d.f16", "e.empty"), st.names());
            assertEquals(Map.of("format", "pt"), st.metadata());
            assertEquals(0, st.headerLength() % 8);
            assertArrayEquals(new double[]{1.5, -0.25}, st.tensor("a.f64").toDoubleArray());
            Tensor scalar = st.tensor("a.scalar");
            assertEquals(0, scalar.rank());
            assertEquals(2.0, scalar.get());
            Tensor f32 = st.tensor("b.f32");
            assertEquals(DType.F32, f32.dtype());
            assertArrayEquals(new long[]{2, 2}, f32.shape());
            assertArrayEquals(new double[]{1, -2, 0.5, Float.MIN_VALUE}, f32.toDoubleArray());
            assertArrayEquals(new double[]{1, -3, Double.POSITIVE_INFINITY}, st.tensor("c.bf16").toDoubleArray());
            assertArrayEquals(new double[]{1, -0.5}, st.tensor("d.f16").toDoubleArray());
            assertEquals("d.f16", st.tensor("d.f16").name());
            Tensor empty = st.tensor("e.empty");
            assertArrayEquals(new long[]{0, 4}, empty.shape());
            assertEquals(0, empty.size());
        }
    }

    @Test
    void readThenWriteOfACanonicalFileReproducesItsBytes() throws IOException {
        byte[] original = canonicalFile();
        Path in = Files.write(dir.resolve("in.safetensors"), original);
        Path out = dir.resolve("out.safetensors");
        try (SafetensorsFile st = SafetensorsFile.open(in)) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (String name : st.names().reversed()) {   // insertion order must not matter
                tensors.put(name, st.tensor(name));
            }
            SafetensorsWriter.write(out, tensors, st.metadata());
        }
        assertArrayEquals(original, Files.readAllBytes(out));
    }

    @Test
    void writerMatchesTheReferenceCrateVectorForOneF32Tensor() throws IOException {
        // reference: tensor.rs test_serialization, "attn.0" F32 [1, 2, 3] = 0..5, header of exactly 64 bytes
        String header = "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
        assertEquals(64, header.length());
        byte[] expected = HandBuiltSafetensors.file(header, f32Range(6));
        Path out = dir.resolve("attn.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter.write(out, Map.of("attn.0", Tensor.of(arena, DType.F32, new double[]{0, 1, 2, 3, 4, 5}, 1, 2, 3)));
        }
        assertArrayEquals(expected, Files.readAllBytes(out));
    }

    @Test
    void writerPadsTheHeaderWithSpacesToAMultipleOfEight() throws IOException {
        // reference: tensor.rs test_serialization_forced_alignement, a 65-byte header padded by 7 spaces to 72
        String header = "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}";
        byte[] expected = HandBuiltSafetensors.file(header + "       ", f32Range(6));
        assertEquals(72, expected[0]);
        Path out = dir.resolve("attn0.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter.write(out, Map.of("attn0", Tensor.of(arena, DType.F32, new double[]{0, 1, 2, 3, 4, 5}, 1, 1, 2, 3)));
        }
        assertArrayEquals(expected, Files.readAllBytes(out));
    }

    @Test
    void writerMatchesTheReferenceCrateVectorsForEmptyFiles() throws IOException {
        // reference: tensor.rs test_empty, "{}" + 6 spaces (N = 8), and {"__metadata__":{"framework":"pt"}} + 5 (N = 40)
        Path empty = dir.resolve("empty.safetensors");
        SafetensorsWriter.write(empty, Map.of());
        assertArrayEquals(HandBuiltSafetensors.file("{}      ", new byte[0]), Files.readAllBytes(empty));

        Path meta = dir.resolve("meta.safetensors");
        SafetensorsWriter.write(meta, Map.of(), Map.of("framework", "pt"));
        byte[] expected = HandBuiltSafetensors.file("{\"__metadata__\":{\"framework\":\"pt\"}}     ", new byte[0]);
        assertEquals(40, expected[0]);
        assertArrayEquals(expected, Files.readAllBytes(meta));
        try (SafetensorsFile st = SafetensorsFile.open(meta)) {
            assertEquals(List.of(), st.names());
            assertEquals(Map.of("framework", "pt"), st.metadata());
        }
    }

    @Test
    void writerEscapesNamesAsSerdeJsonDoes() throws IOException {
        // reference: serde_json's escape table — quote, backslash, short escapes b t n f r, other controls as
        // lowercase backslash-u00xx, non-ASCII and DEL written raw in UTF-8
        String name = "q\"b\\n\nc\u0001d\u007fé";
        String header = "{\"q\\\"b\\\\n\\nc\\u0001d\u007fé\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}";
        byte[] expected = HandBuiltSafetensors.file(padUtf8(header), HandBuiltSafetensors.data().u16(0x3C00).bytes());
        Path out = dir.resolve("escaped.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter.write(out, Map.of(name, Tensor.of(arena, DType.F16, new double[]{1}, 1)));
        }
        assertArrayEquals(expected, Files.readAllBytes(out));
        try (SafetensorsFile st = SafetensorsFile.open(out)) {
            assertEquals(List.of(name), st.names());
        }
    }

    private static byte[] padUtf8(String header) {
        byte[] utf8 = header.getBytes(StandardCharsets.UTF_8);
        String pad = " ".repeat((8 - utf8.length % 8) % 8);
        return (header + pad).getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void readsANonCanonicalFileAndRewritesItCanonically() throws IOException {
        // by hand: unpadded header, keys out of order, an F64 stored after an F32 at an unaligned offset (4)
        String header = "{\"b\":{\"data_offsets\":[4,12],\"shape\":[1],\"dtype\":\"F64\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        byte[] original = HandBuiltSafetensors.file(header, HandBuiltSafetensors.data().f32(7f).f64(-9.5).bytes());
        Path in = Files.write(dir.resolve("odd.safetensors"), original);
        Path out = dir.resolve("canonical.safetensors");
        try (SafetensorsFile st = SafetensorsFile.open(in)) {
            assertEquals(7.0, st.tensor("a").get(0));
            assertEquals(-9.5, st.tensor("b").get(0));
            SafetensorsWriter.write(out, Map.of("a", st.tensor("a"), "b", st.tensor("b")));
        }
        String canonical = "{\"b\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
        byte[] expected = HandBuiltSafetensors.file(padded(canonical), HandBuiltSafetensors.data().f64(-9.5).f32(7f).bytes());
        byte[] written = Files.readAllBytes(out);
        assertFalse(Arrays.equals(original, written));
        assertArrayEquals(expected, written);
    }
}
