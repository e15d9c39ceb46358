package dev.curvature.transformer.checkpoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reference: hand-built files ({@link HandBuiltSafetensors}) that break one rule of the safetensors spec each.
 * Every one must be refused with a {@link CheckpointFormatException} whose message names the file and, where one
 * tensor is at fault, that tensor.
 */
class SafetensorsBadInputTest {
    @TempDir
    Path dir;

    private static final String OK_ENTRY = "\"ok\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    /** Writes {@code bytes}, expects the reader to refuse them naming the file, {@code tensor} and {@code detail}. */
    private CheckpointFormatException assertRejected(byte[] bytes, String tensor, String detail) throws IOException {
        Path file = Files.write(dir.resolve("bad-" + System.nanoTime() + ".safetensors"), bytes);
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
                () -> SafetensorsFile.open(file).close());
        String message = e.getMessage();
        assertTrue(message.contains(file.toString()), "names the file: " + message);
        assertEquals(file, e.file());
        assertEquals(tensor, e.tensorName(), message);
        if (tensor != null) {
            assertTrue(message.contains("'" + tensor + "'"), "names tensor " + tensor + ": " + message);
        }
        assertTrue(message.contains(detail), "says '" + detail + "': " + message);
        return e;
    }

    private static byte[] file(String header, int dataBytes) {
        return HandBuiltSafetensors.file(header, new byte[dataBytes]);
    }

    @Test
    void fileShorterThanTheLengthPrefixIsRefused() throws IOException {
        assertRejected(new byte[]{1, 2, 3}, null, "too short");
        assertRejected(new byte[0], null, "too short");
    }

    @Test
    void headerLengthBeyondTheFileIsRefused() throws IOException {
        assertRejected(HandBuiltSafetensors.fileWithLength(1_000, "{}", new byte[0]), null, "runs past the end");
        assertRejected(HandBuiltSafetensors.fileWithLength(-1L, "{}", new byte[0]), null, "18446744073709551615");
        assertRejected(HandBuiltSafetensors.fileWithLength(Long.MIN_VALUE, "{}", new byte[0]), null, "runs past");
    }

    @Test
    void nonJsonHeaderIsRefused() throws IOException {
        assertRejected(file("{\"a\": nonsense}", 0), null, "not valid JSON");
        assertRejected(file("", 0), null, "not a JSON object");
        assertRejected(file("[1, 2]", 0), null, "not a JSON object");
        assertRejected(file("{} {}", 0), null, "content after its JSON object");
        assertRejected(file("{}\u0000\u0000", 0), null, "not valid JSON");
    }

    @Test
    void headerThatIsNotUtf8IsRefused() throws IOException {
        byte[] header = "{\"a\":{}}".getBytes(StandardCharsets.US_ASCII);
        header[2] = (byte) 0xC3;   // a lead byte followed by an ASCII byte: malformed
        assertRejected(HandBuiltSafetensors.file(header, new byte[0]), null, "not valid UTF-8");
    }

    @Test
    void truncatedJsonInsideAnEntryNamesThatTensor() throws IOException {
        assertRejected(file("{" + OK_ENTRY + ",\"w\":{\"dtype\":\"F3", 8), "w", "not valid JSON");
    }

    @Test
    void missingFieldsAreRefused() throws IOException {
        assertRejected(file("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "w", "no dtype");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8), "w", "no shape");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8), "w", "no data_offsets");
    }

    @Test
    void illTypedFieldsAreRefused() throws IOException {
        assertRejected(file("{\"w\":[1,2]}", 0), "w", "must be an object");
        assertRejected(file("{\"w\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "w", "dtype must be a string");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8), "w", "shape must be an array");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8), "w", "a decimal number");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[null],\"data_offsets\":[0,8]}}", 8), "w", "null");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8), "w", "[begin, end]");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,16]}}", 8), "w", "[begin, end]");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1}}", 8), "w",
                "unexpected field 'extra'");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "w",
                "dtype appears twice");
    }

    @Test
    void unknownDtypeIsRefusedNamingWhatCurvatureReads() throws IOException {
        assertRejected(file("{\"ids\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8), "ids",
                "dtype 'I64' is not supported: curvature reads F32, F16, BF16 and F64");
    }

    @Test
    void negativeDimensionIsRefused() throws IOException {
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8), "w", "negative");
    }

    @Test
    void dimensionBeyondSixtyFourBitsIsRefused() throws IOException {
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,8]}}", 8),
                "w", "does not fit in 64 bits");
    }

    @Test
    void shapeTimesDtypeSizeDisagreeingWithDataOffsetsIsRefused() throws IOException {
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "w",
                "needs 12 bytes but data_offsets [0, 8] span 8");
    }

    @Test
    void overflowInTheShapeProductIsRefused() throws IOException {
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8),
                "w", "overflows");
        // 2^61 elements fit in a long but 2^61 · 4 bytes do not
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2305843009213693952],\"data_offsets\":[0,8]}}", 8),
                "w", "overflows");
        // a zero dimension must not hide an overflow of the others (strides would still overflow)
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[0,4294967296,4294967296],\"data_offsets\":[0,0]}}", 0),
                "w", "overflows");
    }

    @Test
    void offsetsOutsideTheDataSectionAreRefused() throws IOException {
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 8), "w",
                "run past the data section, which holds 8 bytes");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[9223372036854775807,"
                + "9223372036854775807]}}", 8), "w", "run past the data section");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8), "w", "end before");
    }

    @Test
    void overlappingTensorsAreRefused() throws IOException {
        assertRejected(file("{" + OK_ENTRY + ",\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12),
                "w", "overlap tensor 'ok'");
        assertRejected(file("{" + OK_ENTRY + ",\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                "w", "overlap tensor 'ok'");
    }

    @Test
    void holesAndTrailingBytesInTheDataSectionAreRefused() throws IOException {
        assertRejected(file("{" + OK_ENTRY + ",\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", 16),
                "w", "hole of 4 bytes after tensor 'ok'");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8),
                "w", "hole of 4 bytes at the start");
        assertRejected(file("{" + OK_ENTRY + "}", 12), "ok", "data section holds 12 bytes but the tensors cover 8");
        assertRejected(file("{}", 3), null, "the header lists none");
    }

    @Test
    void duplicateNamesAreRefused() throws IOException {
        assertRejected(file("{" + OK_ENTRY + "," + OK_ENTRY + "}", 8), "ok", "appears twice");
        assertRejected(file("{\"__metadata__\":{},\"__metadata__\":{}}", 0), null, "__metadata__ appears twice");
        assertRejected(file("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0), null, "key 'k' appears twice");
    }

    @Test
    void illTypedMetadataIsRefused() throws IOException {
        assertRejected(file("{\"__metadata__\":{\"total\":3}}", 0), null, "value of 'total' must be a string");
        assertRejected(file("{\"__metadata__\":[]}", 0), null, "must be an object of strings");
    }

    @Test
    void hugeNamesAreCutInMessages() throws IOException {
        String name = "x".repeat(10_000);
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> {
            Path file = Files.write(dir.resolve("long.safetensors"),
                    file("{\"" + name + "\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1));
            SafetensorsFile.open(file).close();
        });
        assertEquals(name, e.tensorName());
        assertTrue(e.getMessage().length() < 600, e.getMessage());
        assertTrue(e.getMessage().contains("(10000 chars)"), e.getMessage());
    }
}
