package dev.curvature.transformer.checkpoint;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import dev.curvature.engine.DType;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The parsed and fully validated header of one safetensors file.
 *
 * <p>Layout (the safetensors spec): bytes 0..8 hold N, the header length, as a little-endian u64; bytes 8..8+N hold
 * a UTF-8 JSON object mapping each tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end]}} plus an
 * optional {@code "__metadata__"} string-to-string map, possibly padded with trailing spaces; the data section
 * starts at byte 8+N and holds the tensors little-endian, row-major, at {@code [begin, end)} relative to its
 * start. As in the reference implementation the data section must be covered exactly: no holes, no overlaps,
 * nothing after the last tensor.
 */
final class SafetensorsHeader {
    /** The reference implementation refuses headers above 100 MB; so do we (it also bounds what we parse). */
    static final long MAX_HEADER_BYTES = 100_000_000L;
    static final String METADATA_KEY = "__metadata__";

    private static final ValueLayout.OfLong U64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    // names are one-off per file: no interning or symbol tables that would keep a damaged header's names alive
    private static final JsonFactory JSON = JsonFactory.builder()
            .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
            .disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES)
            .build();
    private static final String SUPPORTED = "curvature reads F32, F16, BF16 and F64";

    /** N: the header length in bytes (the data section starts at 8 + N). */
    final long headerLength;
    /** {@code __metadata__} in file order; empty when absent. */
    final Map<String, String> metadata;
    /** Tensors in data order (by offset, then name). */
    final List<TensorInfo> tensors;

    private SafetensorsHeader(long headerLength, Map<String, String> metadata, List<TensorInfo> tensors) {
        this.headerLength = headerLength;
        this.metadata = Collections.unmodifiableMap(metadata);
        this.tensors = List.copyOf(tensors);
    }

    /** Offset of the data section in the file. */
    long dataStart() {
        return 8 + headerLength;
    }

    /**
     * Parses and validates the header of {@code content}, the whole file; {@code file} is named in every error.
     * On return every tensor's byte range lies inside the data section and matches its shape and dtype.
     */
    static SafetensorsHeader parse(Path file, MemorySegment content) throws CheckpointFormatException {
        long size = content.byteSize();
        if (size < 8) {
            throw new CheckpointFormatException(file, null, "file of " + size
                    + " bytes is too short for the 8-byte header length that starts a safetensors file");
        }
        long n = content.get(U64_LE, 0);
        if (Long.compareUnsigned(n, size - 8) > 0) {
            throw new CheckpointFormatException(file, null, "header length " + Long.toUnsignedString(n)
                    + " (little-endian u64 at byte 0) runs past the end of the file (" + size + " bytes)");
        }
        if (n > MAX_HEADER_BYTES) {
            throw new CheckpointFormatException(file, null, "header length " + n + " exceeds the safetensors limit of "
                    + MAX_HEADER_BYTES + " bytes");
        }
        byte[] bytes = new byte[(int) n];
        MemorySegment.copy(content, ValueLayout.JAVA_BYTE, 8, bytes, 0, bytes.length);
        String text = decodeUtf8(file, bytes);

        long dataLength = size - 8 - n;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<TensorInfo> tensors = parseJson(file, text, metadata, dataLength);
        checkCoverage(file, tensors, dataLength);
        return new SafetensorsHeader(n, metadata, tensors);
    }

    private static String decodeUtf8(Path file, byte[] bytes) throws CheckpointFormatException {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new CheckpointFormatException(file, null, "header is not valid UTF-8", e);
        }
    }

    /** Streams the JSON so that duplicates, types and the tensor at fault are known exactly. */
    private static List<TensorInfo> parseJson(Path file, String text, Map<String, String> metadata, long dataLength)
            throws CheckpointFormatException {
        List<TensorInfo> tensors = new ArrayList<>();
        Set<String> names = new HashSet<>();
        boolean sawMetadata = false;
        String current = null;   // the tensor being parsed, for messages
        try (JsonParser p = JSON.createParser(text)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new CheckpointFormatException(file, null, "header is not a JSON object");
            }
            JsonToken token;
            while ((token = p.nextToken()) == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                boolean isMetadata = key.equals(METADATA_KEY);
                current = isMetadata ? null : key;
                p.nextToken();
                if (isMetadata) {
                    if (sawMetadata) {
                        throw new CheckpointFormatException(file, null, METADATA_KEY + " appears twice in the header");
                    }
                    sawMetadata = true;
                    parseMetadata(file, p, metadata);
                } else {
                    if (!names.add(key)) {
                        throw new CheckpointFormatException(file, key, "appears twice in the header");
                    }
                    tensors.add(parseEntry(file, key, p, dataLength));
                    current = null;   // a syntax error after this entry is not this tensor's fault
                }
            }
            if (token != JsonToken.END_OBJECT) {
                throw new CheckpointFormatException(file, null, "header is not a JSON object");
            }
            if (p.nextToken() != null) {
                throw new CheckpointFormatException(file, null, "header has content after its JSON object (only "
                        + "spaces may pad it)");
            }
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            String where = at == null ? "" : " at header character " + at.getCharOffset();
            throw new CheckpointFormatException(file, current, "header is not valid JSON" + where + ": "
                    + e.getOriginalMessage(), e);
        } catch (CheckpointFormatException e) {
            throw e;
        } catch (IOException e) {
            // a parser over a String does no I/O; keep the contract anyway
            throw new CheckpointFormatException(file, current, "header could not be parsed: " + e.getMessage(), e);
        }
        return tensors;
    }

    private static void parseMetadata(Path file, JsonParser p, Map<String, String> metadata) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw new CheckpointFormatException(file, null, METADATA_KEY + " must be an object of strings, found "
                    + describe(p.currentToken()));
        }
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String key = p.currentName();
            if (p.nextToken() != JsonToken.VALUE_STRING) {
                throw new CheckpointFormatException(file, null, METADATA_KEY + " value of "
                        + CheckpointFormatException.quote(key) + " must be a string, found " + describe(p.currentToken()));
            }
            if (metadata.putIfAbsent(key, p.getText()) != null) {
                throw new CheckpointFormatException(file, null, METADATA_KEY + " key "
                        + CheckpointFormatException.quote(key) + " appears twice");
            }
        }
    }

    private static TensorInfo parseEntry(Path file, String name, JsonParser p, long dataLength) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw new CheckpointFormatException(file, name, "entry must be an object {dtype, shape, data_offsets}, found "
                    + describe(p.currentToken()));
        }
        DType dtype = null;
        long[] shape = null;
        long[] offsets = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken value = p.nextToken();
            switch (field) {
                case "dtype" -> {
                    requireAbsent(file, name, field, dtype);
                    if (value != JsonToken.VALUE_STRING) {
                        throw new CheckpointFormatException(file, name, "dtype must be a string, found " + describe(value));
                    }
                    dtype = DType.fromSafetensorsName(p.getText());
                    if (dtype == null) {
                        throw new CheckpointFormatException(file, name, "dtype " + CheckpointFormatException.quote(p.getText())
                                + " is not supported: " + SUPPORTED);
                    }
                }
                case "shape" -> {
                    requireAbsent(file, name, field, shape);
                    shape = readLongs(file, name, field, p);
                }
                case "data_offsets" -> {
                    requireAbsent(file, name, field, offsets);
                    offsets = readLongs(file, name, field, p);
                    if (offsets.length != 2) {
                        throw new CheckpointFormatException(file, name, "data_offsets must be [begin, end], found "
                                + offsets.length + " numbers");
                    }
                }
                default -> throw new CheckpointFormatException(file, name, "unexpected field "
                        + CheckpointFormatException.quote(field) + " (an entry has dtype, shape and data_offsets)");
            }
        }
        if (dtype == null || shape == null || offsets == null) {
            String missing = dtype == null ? "dtype" : shape == null ? "shape" : "data_offsets";
            throw new CheckpointFormatException(file, name, "entry has no " + missing);
        }
        return checkedEntry(file, name, dtype, shape, offsets[0], offsets[1], dataLength);
    }

    private static void requireAbsent(Path file, String name, String field, Object seen) throws CheckpointFormatException {
        if (seen != null) {
            throw new CheckpointFormatException(file, name, field + " appears twice in the entry");
        }
    }

    /** A JSON array of non-negative integers that fit in a signed 64-bit long. */
    private static long[] readLongs(Path file, String name, String field, JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.START_ARRAY) {
            throw new CheckpointFormatException(file, name, field + " must be an array of integers, found "
                    + describe(p.currentToken()));
        }
        long[] values = new long[4];
        int count = 0;
        JsonToken token;
        while ((token = p.nextToken()) != JsonToken.END_ARRAY) {
            if (token != JsonToken.VALUE_NUMBER_INT) {
                throw new CheckpointFormatException(file, name, field + " must hold integers, found " + describe(token));
            }
            if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                throw new CheckpointFormatException(file, name, field + " value " + abbreviate(p.getText())
                        + " does not fit in 64 bits");
            }
            long v = p.getLongValue();
            if (v < 0) {
                throw new CheckpointFormatException(file, name, field + " holds the negative value " + v);
            }
            if (count == values.length) {
                values = Arrays.copyOf(values, count * 2);
            }
            values[count++] = v;
        }
        return Arrays.copyOf(values, count);
    }

    /** Checks one entry on its own: shape arithmetic, byte count, range inside the data section. */
    private static TensorInfo checkedEntry(Path file, String name, DType dtype, long[] shape, long begin, long end,
                                           long dataLength) throws CheckpointFormatException {
        long bytes;
        try {
            // product of max(d, 1): a zero dimension must not hide an overflow that strides would still hit
            long span = 1;
            long elements = 1;
            for (long d : shape) {
                span = Math.multiplyExact(span, Math.max(d, 1));
                elements *= d;
            }
            bytes = Math.multiplyExact(span, (long) dtype.byteSize());
            bytes = elements == 0 ? 0 : bytes;
        } catch (ArithmeticException e) {
            throw new CheckpointFormatException(file, name, "shape " + Arrays.toString(shape) + " of " + dtype
                    + " overflows 64-bit byte arithmetic");
        }
        String offsets = "data_offsets [" + begin + ", " + end + "]";
        if (end < begin) {
            throw new CheckpointFormatException(file, name, offsets + " end before they begin");
        }
        if (end - begin != bytes) {
            throw new CheckpointFormatException(file, name, "shape " + Arrays.toString(shape) + " of " + dtype
                    + " needs " + bytes + " bytes but " + offsets + " span " + (end - begin));
        }
        if (end > dataLength) {
            throw new CheckpointFormatException(file, name, offsets + " run past the data section, which holds "
                    + dataLength + " bytes");
        }
        return new TensorInfo(name, dtype, shape, file, begin, end);
    }

    /** Sorts by offset and requires the tensors to tile the data section exactly (the spec forbids holes). */
    private static void checkCoverage(Path file, List<TensorInfo> tensors, long dataLength)
            throws CheckpointFormatException {
        tensors.sort(Comparator.comparingLong(TensorInfo::dataBegin).thenComparingLong(TensorInfo::dataEnd)
                .thenComparing(TensorInfo::name));
        long at = 0;
        TensorInfo previous = null;
        for (TensorInfo t : tensors) {
            if (t.dataBegin() < at) {
                throw new CheckpointFormatException(file, t.name(), "data_offsets [" + t.dataBegin() + ", "
                        + t.dataEnd() + "] overlap tensor " + CheckpointFormatException.quote(previous.name())
                        + " at [" + previous.dataBegin() + ", " + previous.dataEnd() + "]");
            }
            if (t.dataBegin() > at) {
                throw new CheckpointFormatException(file, t.name(), "data_offsets [" + t.dataBegin() + ", "
                        + t.dataEnd() + "] leave a hole of " + (t.dataBegin() - at) + " bytes "
                        + (previous == null ? "at the start of the data section"
                        : "after tensor " + CheckpointFormatException.quote(previous.name()))
                        + " (the spec forbids holes)");
            }
            at = t.dataEnd();
            previous = t;
        }
        if (at != dataLength) {
            throw new CheckpointFormatException(file, previous == null ? null : previous.name(), "the data section holds "
                    + dataLength + " bytes but the tensors cover " + at + (previous == null ? " (the header lists none)"
                    : ", ending with this one") + ": the file has trailing bytes or a wrong header length");
        }
    }

    private static String describe(JsonToken token) {
        if (token == null) {
            return "end of input";
        }
        return switch (token) {
            case START_OBJECT -> "an object";
            case START_ARRAY -> "an array";
            case VALUE_STRING -> "a string";
            case VALUE_NUMBER_INT -> "an integer";
            case VALUE_NUMBER_FLOAT -> "a decimal number";
            case VALUE_TRUE, VALUE_FALSE -> "a boolean";
            case VALUE_NULL -> "null";
            default -> token.toString();
        };
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "…(" + s.length() + " digits)";
    }
}
