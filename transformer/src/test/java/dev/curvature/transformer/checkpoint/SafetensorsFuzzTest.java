package dev.curvature.transformer.checkpoint;

import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Reference: the reader's contract — for any bytes at all, opening and reading every tensor either succeeds or
 * throws {@link CheckpointFormatException}; nothing else escapes (no IndexOutOfBounds, no Jackson exception, no
 * IllegalArgumentException from FFM, no crash). Mutations of a valid small checkpoint, seeded, 12,000 of them:
 * bit flips and byte writes in the length prefix and the header, interesting length prefixes, JSON-aware edits
 * (numbers, structural characters, dtype names, one entry's name or data_offsets copied onto another) with the
 * length prefix kept consistent, truncation, extension, splices, insertions, deletions; one to three per mutant.
 */
class SafetensorsFuzzTest {
    private static final long SEED = 0x5AFE_7E45_0125L;
    private static final int MUTANTS = 12_000;
    private static final byte[] JSON_CHARS = "{}[]\",:0123456789-+.eE \\".getBytes(StandardCharsets.US_ASCII);
    private static final String[] DTYPE_NAMES = {"F32", "F64", "F16", "BF16", "I64", "U8", "F8_E4M3", ""};

    @TempDir
    Path dir;

    private byte[] validCheckpoint() throws IOException {
        Path file = dir.resolve("seed.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("wte.weight", Tensor.of(arena, DType.F32, new double[]{1, 2, 3, 4, 5, 6}, 3, 2));
            tensors.put("ln_f.bias", Tensor.of(arena, DType.F64, new double[]{0.5, -0.5}, 2));
            tensors.put("h.0.attn.c_attn.weight", Tensor.of(arena, DType.BF16, new double[]{1, -1, 2, -2}, 2, 2));
            tensors.put("h.0.ln_1.weight", Tensor.of(arena, DType.F16, new double[]{1, 2, 3}, 3));
            tensors.put("h.0.ln_1.bias", Tensor.of(arena, DType.F16, new double[]{0, -1, 0.25}, 3));  // as long as ln_1.weight
            tensors.put("scalar", Tensor.of(arena, DType.F32, new double[]{7}));
            tensors.put("wpe.weight", Tensor.of(arena, DType.F32, new double[]{8}, 1));     // as long as scalar
            tensors.put("empty", Tensor.allocate(arena, DType.F16, 0, 2));
            SafetensorsWriter.write(file, tensors, Map.of("format", "pt", "note", "fuzz seed"));
        }
        return Files.readAllBytes(file);
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void mutatedCheckpointsOpenOrFailWithCheckpointFormatExceptionOnly() throws IOException {
        byte[] valid = validCheckpoint();
        SplittableRandom random = new SplittableRandom(SEED);
        Path file = dir.resolve("mutant.safetensors");
        int accepted = 0;
        int rejected = 0;
        int rejectedNamingTensor = 0;   // refusals past the JSON syntax, in the per-tensor checks
        long start = System.nanoTime();
        for (int i = 0; i < MUTANTS; i++) {
            List<String> log = new ArrayList<>();
            byte[] mutant = valid;
            int rounds = 1 + random.nextInt(3);
            for (int r = 0; r < rounds; r++) {
                mutant = mutate(mutant, random, log);
            }
            Files.write(file, mutant);
            try (SafetensorsFile st = SafetensorsFile.open(file)) {
                long covered = 0;
                for (String name : st.names()) {
                    Tensor t = st.tensor(name);
                    t.toDoubleArray();
                    covered += st.info(name).byteSize();
                }
                assertEquals(mutant.length - 8 - st.headerLength(), covered, "accepted file's tensors tile its data");
                accepted++;
            } catch (CheckpointFormatException expected) {
                assertTrue(expected.getMessage().contains(file.toString()), expected.getMessage());
                rejected++;
                if (expected.tensorName() != null) {
                    rejectedNamingTensor++;
                }
            } catch (Throwable escaped) {
                fail("mutant " + i + " (seed " + SEED + ", " + String.join("; ", log) + ") let "
                        + escaped.getClass().getName() + " escape; file bytes: " + HexFormat.of().formatHex(mutant),
                        escaped);
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("safetensors fuzz: %d mutants, %d opened, %d refused with CheckpointFormatException "
                + "(%d naming a tensor), %.2f s%n", MUTANTS, accepted, rejected, rejectedNamingTensor, seconds);
        // the fuzz is only meaningful if it reaches both outcomes
        assertTrue(accepted > 100, "accepted " + accepted);
        assertTrue(rejected > MUTANTS / 2, "rejected " + rejected);
        assertTrue(rejectedNamingTensor > MUTANTS / 10, "refusals naming a tensor " + rejectedNamingTensor);
    }

    private static byte[] mutate(byte[] in, SplittableRandom random, List<String> log) {
        byte[] b = in.clone();
        int headerEnd = (int) Math.min(b.length, 8 + Math.max(0, Math.min(headerLength(b), b.length)));
        switch (random.nextInt(14)) {
            case 0 -> {   // a bit of the length prefix
                if (b.length >= 8) {
                    int bit = random.nextInt(64);
                    b[bit / 8] ^= (byte) (1 << (bit % 8));
                    log.add("flip prefix bit " + bit);
                }
            }
            case 1 -> {   // a bit of the header
                if (headerEnd > 8) {
                    int at = 8 + random.nextInt(headerEnd - 8);
                    b[at] ^= (byte) (1 << random.nextInt(8));
                    log.add("flip header bit at byte " + at);
                }
            }
            case 2 -> {   // a random byte anywhere
                if (b.length > 0) {
                    int at = random.nextInt(b.length);
                    b[at] = (byte) random.nextInt(256);
                    log.add("random byte at " + at);
                }
            }
            case 3 -> {   // a JSON structural character in the header
                if (headerEnd > 8) {
                    int at = 8 + random.nextInt(headerEnd - 8);
                    b[at] = JSON_CHARS[random.nextInt(JSON_CHARS.length)];
                    log.add("JSON char at " + at);
                }
            }
            case 4 -> {   // rewrite a number of the header (shape or offset), keeping the prefix consistent
                return editNumber(b, random, log);
            }
            case 5 -> {   // swap a dtype name, keeping the prefix consistent
                return swapDtype(b, random, log);
            }
            case 6 -> {   // truncate
                int length = random.nextInt(b.length + 1);
                log.add("truncate to " + length);
                return Arrays.copyOf(b, length);
            }
            case 7 -> {   // extend with random bytes
                int extra = 1 + random.nextInt(64);
                byte[] out = Arrays.copyOf(b, b.length + extra);
                for (int k = b.length; k < out.length; k++) {
                    out[k] = (byte) random.nextInt(256);
                }
                log.add("extend by " + extra);
                return out;
            }
            case 8 -> {   // splice: overwrite a range with a copy of another range
                if (b.length > 2) {
                    int from = random.nextInt(b.length);
                    int to = random.nextInt(b.length);
                    int len = random.nextInt(1 + Math.min(32, Math.min(b.length - from, b.length - to)));
                    System.arraycopy(in, from, b, to, len);
                    log.add("splice " + len + " bytes " + from + "->" + to);
                }
            }
            case 9 -> {   // splice: insert a copy of a range
                int from = random.nextInt(b.length + 1);
                int len = random.nextInt(1 + Math.min(32, b.length - from));
                int to = random.nextInt(b.length + 1);
                byte[] out = new byte[b.length + len];
                System.arraycopy(b, 0, out, 0, to);
                System.arraycopy(b, from, out, to, len);
                System.arraycopy(b, to, out, to + len, b.length - to);
                log.add("insert " + len + " bytes from " + from + " at " + to);
                return out;
            }
            case 10 -> {  // delete a range
                int from = random.nextInt(b.length + 1);
                int len = random.nextInt(1 + Math.min(32, b.length - from));
                byte[] out = new byte[b.length - len];
                System.arraycopy(b, 0, out, 0, from);
                System.arraycopy(b, from + len, out, from, b.length - from - len);
                log.add("delete " + len + " bytes at " + from);
                return out;
            }
            case 12 -> {  // give one entry another entry's data_offsets (overlaps, holes), prefix kept consistent
                return copyBetweenEntries(b, random, log, "\"data_offsets\":[", ']');
            }
            case 13 -> {  // give one entry another entry's name (duplicates), prefix kept consistent
                return copyBetweenEntries(b, random, log, "},\"", '"');
            }
            default -> {  // an interesting length prefix
                if (b.length >= 8) {
                    long[] values = {0, 1, 2, b.length - 8L, b.length - 7L, headerLength(b) + 1, headerLength(b) - 1,
                            Long.MAX_VALUE, Long.MIN_VALUE, -1, 100_000_001, random.nextLong()};
                    long n = values[random.nextInt(values.length)];
                    putLength(b, n);
                    log.add("prefix := " + Long.toUnsignedString(n));
                }
            }
        }
        return b;
    }

    private static long headerLength(byte[] b) {
        if (b.length < 8) {
            return 0;
        }
        long n = 0;
        for (int k = 7; k >= 0; k--) {
            n = (n << 8) | (b[k] & 0xFF);
        }
        return n;
    }

    private static void putLength(byte[] b, long n) {
        for (int k = 0; k < 8; k++) {
            b[k] = (byte) (n >>> (8 * k));
        }
    }

    /** Replaces a run of digits in the header by another number; rewrites the prefix to the new header length. */
    private static byte[] editNumber(byte[] b, SplittableRandom random, List<String> log) {
        long n = headerLength(b);
        if (b.length < 8 || n <= 0 || n > b.length - 8) {
            return b;
        }
        String header = new String(b, 8, (int) n, StandardCharsets.ISO_8859_1);
        List<int[]> runs = new ArrayList<>();
        for (int k = 0; k < header.length(); ) {
            if (Character.isDigit(header.charAt(k))) {
                int s = k;
                while (k < header.length() && Character.isDigit(header.charAt(k))) {
                    k++;
                }
                runs.add(new int[]{s, k});
            } else {
                k++;
            }
        }
        if (runs.isEmpty()) {
            return b;
        }
        int[] run = runs.get(random.nextInt(runs.size()));
        String[] replacements = {"0", "1", String.valueOf(random.nextInt(64)), "-1", "9223372036854775807",
                "18446744073709551616", "4294967296", String.valueOf(random.nextLong() >>> random.nextInt(64)), "1e3",
                "2.5"};
        String replacement = replacements[random.nextInt(replacements.length)];
        log.add("number at " + run[0] + " := " + replacement);
        return withHeader(b, header.substring(0, run[0]) + replacement + header.substring(run[1]), n);
    }

    /** Replaces one dtype string by another (possibly unknown) name; rewrites the prefix. */
    private static byte[] swapDtype(byte[] b, SplittableRandom random, List<String> log) {
        long n = headerLength(b);
        if (b.length < 8 || n <= 0 || n > b.length - 8) {
            return b;
        }
        String header = new String(b, 8, (int) n, StandardCharsets.ISO_8859_1);
        List<Integer> starts = new ArrayList<>();
        for (int k = header.indexOf("\"dtype\":\""); k >= 0; k = header.indexOf("\"dtype\":\"", k + 1)) {
            starts.add(k + 9);
        }
        if (starts.isEmpty()) {
            return b;
        }
        int s = starts.get(random.nextInt(starts.size()));
        int e = header.indexOf('"', s);
        if (e < 0) {
            return b;
        }
        String name = DTYPE_NAMES[random.nextInt(DTYPE_NAMES.length)];
        log.add("dtype at " + s + " := " + name);
        return withHeader(b, header.substring(0, s) + name + header.substring(e), n);
    }

    /**
     * Copies the text after one occurrence of {@code marker} (up to {@code end}) over the text after another;
     * rewrites the prefix.
     */
    private static byte[] copyBetweenEntries(byte[] b, SplittableRandom random, List<String> log, String marker,
                                             char end) {
        long n = headerLength(b);
        if (b.length < 8 || n <= 0 || n > b.length - 8) {
            return b;
        }
        String header = new String(b, 8, (int) n, StandardCharsets.ISO_8859_1);
        List<int[]> spans = new ArrayList<>();
        for (int k = header.indexOf(marker); k >= 0; k = header.indexOf(marker, k + 1)) {
            int s = k + marker.length();
            int e = header.indexOf(end, s);
            if (e > s) {
                spans.add(new int[]{s, e});
            }
        }
        if (spans.size() < 2) {
            return b;
        }
        int[] from = spans.get(random.nextInt(spans.size()));
        int[] to = spans.get(random.nextInt(spans.size()));
        String text = header.substring(from[0], from[1]);
        log.add("copy '" + text + "' over " + to[0] + ".." + to[1]);
        return withHeader(b, header.substring(0, to[0]) + text + header.substring(to[1]), n);
    }

    private static byte[] withHeader(byte[] b, String header, long oldLength) {
        byte[] h = header.getBytes(StandardCharsets.ISO_8859_1);
        int dataStart = (int) (8 + oldLength);
        byte[] out = new byte[8 + h.length + b.length - dataStart];
        putLength(out, h.length);
        System.arraycopy(h, 0, out, 8, h.length);
        System.arraycopy(b, dataStart, out, 8 + h.length, b.length - dataStart);
        return out;
    }
}
