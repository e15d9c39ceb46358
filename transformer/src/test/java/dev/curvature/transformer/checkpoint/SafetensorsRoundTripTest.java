package dev.curvature.transformer.checkpoint;

import dev.curvature.engine.DType;
import dev.curvature.engine.Device;
import dev.curvature.engine.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Reference: the source tensors' raw element bits, read by a naive strided loop over storage (independent of the
 * writer's copy). Tolerance: none, bitwise — random bit patterns include NaN payloads, subnormals and -0.
 */
class SafetensorsRoundTripTest {
    @TempDir
    Path dir;

    /** Raw bits of every element of {@code t} in row-major order, via offset and strides. */
    static long[] rawBits(Tensor t) {
        long[] shape = t.shape();
        int n = Math.toIntExact(t.size());
        long[] out = new long[n];
        long[] index = new long[shape.length];
        for (int i = 0; i < n; i++) {
            long element = t.offset();
            for (int d = 0; d < shape.length; d++) {
                element += index[d] * t.stride(d);
            }
            out[i] = bitsAt(t.storage(), t.dtype(), element);
            for (int d = shape.length - 1; d >= 0; d--) {
                if (++index[d] < shape[d]) {
                    break;
                }
                index[d] = 0;
            }
        }
        return out;
    }

    private static long bitsAt(MemorySegment storage, DType dtype, long element) {
        long at = element * dtype.byteSize();
        return switch (dtype.byteSize()) {
            case 8 -> storage.get(ValueLayout.JAVA_LONG_UNALIGNED, at);
            case 4 -> storage.get(ValueLayout.JAVA_INT_UNALIGNED, at) & 0xFFFFFFFFL;
            default -> storage.get(ValueLayout.JAVA_SHORT_UNALIGNED, at) & 0xFFFFL;
        };
    }

    /** A row-major tensor of random bit patterns. */
    private static Tensor randomBits(Arena arena, DType dtype, SplittableRandom random, long... shape) {
        Tensor t = Tensor.allocate(arena, dtype, shape);
        MemorySegment s = t.storage();
        for (long i = 0; i < t.size() * dtype.byteSize(); i++) {
            s.set(ValueLayout.JAVA_BYTE, i, (byte) random.nextInt(256));
        }
        return t;
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void contiguousAndStridedTensorsRoundTripBitwise(DType dtype) throws IOException {
        SplittableRandom random = new SplittableRandom(20_240_601L + dtype.ordinal());
        Path file = dir.resolve(dtype + ".safetensors");
        try (Arena arena = Arena.ofConfined()) {
            Tensor cube = randomBits(arena, dtype, random, 3, 5, 7);
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("cube", cube);
            tensors.put("cube.transposed", cube.transpose(0, 2));     // innermost stride 35: element by element
            tensors.put("cube.sliced", cube.slice(1, 1, 4));          // innermost stride 1, rows not adjacent
            tensors.put("cube.selected", cube.select(2, 3));
            tensors.put("scalar", randomBits(arena, dtype, random));
            tensors.put("empty", Tensor.allocate(arena, dtype, 0, 3));
            tensors.put("big", randomBits(arena, dtype, random, 700, 300));   // > 1 MiB for F64/F32: several flushes
            Map<String, String> metadata = Map.of("format", "pt", "dtype", dtype.safetensorsName());

            SafetensorsWriter.write(file, tensors, metadata);

            try (SafetensorsFile st = SafetensorsFile.open(file)) {
                assertEquals(tensors.keySet().stream().sorted().toList(), st.names());
                assertEquals(metadata, st.metadata());
                for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                    Tensor read = st.tensor(e.getKey());
                    assertEquals(dtype, read.dtype(), e.getKey());
                    assertArrayEquals(e.getValue().shape(), read.shape(), e.getKey());
                    assertArrayEquals(rawBits(e.getValue()), rawBits(read), e.getKey());
                }
            }
        }
    }

    @Test
    void everyDtypeRoundTripsInOneFile() throws IOException {
        SplittableRandom random = new SplittableRandom(7);
        Path file = dir.resolve("mixed.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (DType dtype : DType.values()) {
                tensors.put("w." + dtype, randomBits(arena, dtype, random, 3, 3));
            }
            SafetensorsWriter.write(file, tensors);
            try (SafetensorsFile st = SafetensorsFile.open(file)) {
                for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                    assertArrayEquals(rawBits(e.getValue()), rawBits(st.tensor(e.getKey())), e.getKey());
                }
                // descending alignment: every tensor starts at a multiple of its element size in the file
                for (TensorInfo t : st.tensorsInDataOrder()) {
                    assertEquals(0, (8 + st.headerLength() + t.dataBegin()) % t.dtype().byteSize(), t.name());
                }
                // the reference orders by its Dtype enum, descending: F64, F32, I32, BF16, F16
                assertEquals(List.of("w.F64", "w.F32", "w.I32", "w.BF16", "w.F16"),
                        st.tensorsInDataOrder().stream().map(TensorInfo::name).toList());
            }
        }
    }

    @Test
    void unicodeNamesAndMetadataRoundTrip() throws IOException {
        Path file = dir.resolve("unicode.safetensors");
        Map<String, String> metadata = Map.of("note", "quote \" backslash \\ newline \n tab \t bell \u0007 é 𝄞",
                "", "empty key");
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.of(arena, DType.F32, new double[]{1, 2}, 2);
            SafetensorsWriter.write(file, Map.of("naïve.𝄞.\"weight\"", t, "", t), metadata);
        }
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            assertEquals(List.of("", "naïve.𝄞.\"weight\""), st.names());
            assertEquals(metadata, st.metadata());
            assertArrayEquals(new double[]{1, 2}, st.tensor("naïve.𝄞.\"weight\"").toDoubleArray());
        }
    }

    @Test
    void rewritingAMappedFileIsAtomicAndLeavesNoTemporaryFile() throws IOException {
        Path file = dir.resolve("model.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter.write(file, Map.of("w", Tensor.of(arena, DType.F32, new double[]{1, 1}, 2)));
            try (SafetensorsFile old = SafetensorsFile.open(file)) {
                Tensor oldView = old.tensor("w");
                SafetensorsWriter.write(file, Map.of("w", Tensor.of(arena, DType.F32, new double[]{2, 2}, 2)));
                // the rename replaced the directory entry; the mapped old file is intact
                assertArrayEquals(new double[]{1, 1}, oldView.toDoubleArray());
                try (SafetensorsFile fresh = SafetensorsFile.open(file)) {
                    assertArrayEquals(new double[]{2, 2}, fresh.tensor("w").toDoubleArray());
                }
            }
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(file), files.toList());
        }
    }

    @Test
    void writerRefusesDeviceTensorsAndTheMetadataName() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor onDevice = Tensor.wrap(arena.allocate(8), DType.F32, Device.CUDA, 2);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> SafetensorsWriter.write(dir.resolve("x.safetensors"), Map.of("w", onDevice)));
            assertEquals(true, e.getMessage().contains("CUDA"), e.getMessage());
            Tensor host = Tensor.allocate(arena, DType.F32, 2);
            assertThrows(IllegalArgumentException.class,
                    () -> SafetensorsWriter.write(dir.resolve("x.safetensors"), Map.of("__metadata__", host)));
            assertThrows(IllegalArgumentException.class,
                    () -> SafetensorsWriter.write(dir.resolve("x.safetensors"), Map.of("bad\uD800", host)));
        }
        assertEquals(false, Files.exists(dir.resolve("x.safetensors")));
    }
}
