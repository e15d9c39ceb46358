package dev.curvature.transformer.checkpoint;

import dev.curvature.engine.DType;
import dev.curvature.engine.Device;
import dev.curvature.engine.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Writes tensors and string metadata to a {@code .safetensors} file, deterministically and atomically.
 *
 * <p>Canonical form, byte for byte what the reference implementation (the {@code safetensors} Rust crate behind
 * {@code safetensors.torch.save_file}) writes: tensors ordered by descending dtype alignment (F64, F32, BF16, F16)
 * and then by name (UTF-8 byte order), so every tensor starts at a multiple of its element size; compact JSON with
 * {@code __metadata__} first (its keys sorted; the reference leaves them in hash order) and each entry as
 * {@code {"dtype":..,"shape":[..],"data_offsets":[b,e]}}; the header padded with spaces to a multiple of 8 bytes.
 * For a single-dtype checkpoint (every HF model) the order is simply by name.
 *
 * <p>Tensor bytes are copied as they are (bitwise, NaN payloads included), from contiguous or strided host views.
 * The file is written through {@link AtomicFile}: temporary file, fsync, rename.
 */
public final class SafetensorsWriter {
    private static final int STAGING_BYTES = 1 << 20;
    /**
     * The reference sorts by its Dtype enum, descending (… F16, BF16, I32, U32, F32, F64 …), which also orders by
     * descending alignment: F64, F32, I32, BF16, F16.
     */
    private static final List<DType> REFERENCE_ORDER = List.of(DType.F64, DType.F32, DType.I32, DType.BF16, DType.F16);
    private static final Comparator<DType> ALIGNMENT_DESCENDING = Comparator.comparingInt(REFERENCE_ORDER::indexOf);
    private static final Comparator<String> UTF8_ORDER = (a, b) ->
            Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));

    private SafetensorsWriter() {
    }

    /** Writes {@code tensors} (name → host tensor) with no metadata. */
    public static void write(Path file, Map<String, Tensor> tensors) throws IOException {
        write(file, tensors, Map.of());
    }

    /**
     * Writes {@code tensors} (name → host tensor) and {@code metadata} (stored as {@code __metadata__}, omitted when
     * empty) to {@code file}, replacing it atomically. The map's own names are used, not {@link Tensor#name()}.
     *
     * @throws IllegalArgumentException if a tensor is not on the host, a name is {@code __metadata__} or not valid
     *                                  Unicode (an unpaired surrogate), or the header would exceed 100 MB
     */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        List<Map.Entry<String, Tensor>> ordered = canonicalOrder(tensors);
        byte[] header = header(ordered, metadata);
        AtomicFile.write(file, channel -> {
            ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).flip();
            writeFully(channel, prefix);
            writeFully(channel, ByteBuffer.wrap(header));
            HaltPoint.reach("safetensors.header-written");
            try (Arena arena = Arena.ofConfined()) {
                Staging staging = new Staging(channel, arena.allocate(STAGING_BYTES, 64));
                for (Map.Entry<String, Tensor> e : ordered) {
                    copyElements(staging, e.getValue());
                }
                staging.flush();
            }
        });
    }

    /** The tensors in canonical file order: descending dtype alignment, then name in UTF-8 byte order. */
    static List<Map.Entry<String, Tensor>> canonicalOrder(Map<String, Tensor> tensors) {
        List<Map.Entry<String, Tensor>> ordered = new ArrayList<>(tensors.size());
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String name = Objects.requireNonNull(e.getKey(), "tensor name");
            Tensor t = Objects.requireNonNull(e.getValue(), name);
            if (name.equals(SafetensorsHeader.METADATA_KEY)) {
                throw new IllegalArgumentException("'" + name + "' is reserved for metadata and cannot name a tensor");
            }
            if (t.device() != Device.HOST) {
                throw new IllegalArgumentException("cannot write " + name + ": " + t.describe() + " lives on "
                        + t.device() + "; copy it to the host first");
            }
            ordered.add(Map.entry(name, t));
        }
        ordered.sort(Comparator.<Map.Entry<String, Tensor>, DType>comparing(e -> e.getValue().dtype(), ALIGNMENT_DESCENDING)
                .thenComparing(Map.Entry::getKey, UTF8_ORDER));
        return ordered;
    }

    /** The header bytes, space-padded to a multiple of 8, for tensors already in canonical order. */
    static byte[] header(List<Map.Entry<String, Tensor>> ordered, Map<String, String> metadata) {
        StringBuilder json = new StringBuilder(64 + 96 * ordered.size()).append('{');
        if (!metadata.isEmpty()) {
            Map<String, String> sorted = new TreeMap<>(UTF8_ORDER);
            sorted.putAll(metadata);
            appendString(json, SafetensorsHeader.METADATA_KEY).append(":{");
            boolean first = true;
            for (Map.Entry<String, String> e : sorted.entrySet()) {
                if (!first) {
                    json.append(',');
                }
                first = false;
                appendString(json, e.getKey()).append(':');
                appendString(json, Objects.requireNonNull(e.getValue(), e.getKey()));
            }
            json.append('}');
            if (!ordered.isEmpty()) {
                json.append(',');
            }
        }
        long offset = 0;
        for (int i = 0; i < ordered.size(); i++) {
            Tensor t = ordered.get(i).getValue();
            long bytes = t.size() * t.dtype().byteSize();
            if (i > 0) {
                json.append(',');
            }
            appendString(json, ordered.get(i).getKey()).append(":{\"dtype\":");
            appendString(json, t.dtype().safetensorsName()).append(",\"shape\":[");
            long[] shape = t.shape();
            for (int d = 0; d < shape.length; d++) {
                json.append(d == 0 ? "" : ",").append(shape[d]);
            }
            json.append("],\"data_offsets\":[").append(offset).append(',').append(offset + bytes).append("]}");
            offset += bytes;
        }
        json.append('}');
        byte[] text = json.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (text.length + 7) & ~7;
        if (padded > SafetensorsHeader.MAX_HEADER_BYTES) {
            throw new IllegalArgumentException("safetensors header of " + padded + " bytes exceeds the limit of "
                    + SafetensorsHeader.MAX_HEADER_BYTES + " that readers enforce");
        }
        byte[] out = Arrays.copyOf(text, padded);
        Arrays.fill(out, text.length, padded, (byte) ' ');
        return out;
    }

    /**
     * A JSON string escaped as serde_json escapes it: quote and backslash, the short escapes b t n f r, other
     * control characters as backslash-u and four lowercase hex digits; everything else as is (UTF-8).
     */
    private static StringBuilder appendString(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isSurrogate(c)) {
                boolean paired = Character.isHighSurrogate(c) && i + 1 < s.length()
                        && Character.isLowSurrogate(s.charAt(i + 1));
                if (!paired) {
                    throw new IllegalArgumentException("name or metadata " + CheckpointFormatException.quote(s)
                            + " holds an unpaired surrogate at index " + i + " and has no UTF-8 form");
                }
                sb.append(c).append(s.charAt(++i));
                continue;
            }
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\b' -> sb.append("\\b");
                case '\t' -> sb.append("\\t");
                case '\n' -> sb.append("\\n");
                case '\f' -> sb.append("\\f");
                case '\r' -> sb.append("\\r");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"');
    }

    /** Copies the elements of {@code t} in row-major order, a contiguous innermost run at a time. */
    private static void copyElements(Staging staging, Tensor t) throws IOException {
        long n = t.size();
        if (n == 0) {
            return;
        }
        long bs = t.dtype().byteSize();
        MemorySegment storage = t.storage();
        if (t.isContiguous()) {
            staging.put(storage, t.offset() * bs, n * bs);
            return;
        }
        int rank = t.rank();
        long[] shape = t.shape();
        long inner = shape[rank - 1];
        long innerStride = t.stride(rank - 1);
        long[] index = new long[rank - 1];
        long rows = n / inner;
        for (long r = 0; r < rows; r++) {
            long base = t.offset();
            for (int d = 0; d < rank - 1; d++) {
                base += index[d] * t.stride(d);
            }
            if (innerStride == 1) {
                staging.put(storage, base * bs, inner * bs);
            } else {
                for (long j = 0; j < inner; j++) {
                    staging.put(storage, (base + j * innerStride) * bs, bs);
                }
            }
            for (int d = rank - 2; d >= 0; d--) {
                if (++index[d] < shape[d]) {
                    break;
                }
                index[d] = 0;
            }
        }
    }

    private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    /** A native buffer that gathers bytes and writes them to the channel when full. */
    private static final class Staging {
        private final FileChannel channel;
        private final MemorySegment buffer;
        private long used;

        Staging(FileChannel channel, MemorySegment buffer) {
            this.channel = channel;
            this.buffer = buffer;
        }

        void put(MemorySegment src, long offset, long length) throws IOException {
            while (length > 0) {
                long chunk = Math.min(length, buffer.byteSize() - used);
                MemorySegment.copy(src, offset, buffer, used, chunk);
                used += chunk;
                offset += chunk;
                length -= chunk;
                if (used == buffer.byteSize()) {
                    flush();
                }
            }
        }

        void flush() throws IOException {
            if (used > 0) {
                writeFully(channel, buffer.asSlice(0, used).asByteBuffer());
                used = 0;
            }
        }
    }
}
