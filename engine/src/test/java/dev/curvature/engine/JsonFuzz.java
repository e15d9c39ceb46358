package dev.curvature.engine;

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * A property test for the JSON-shaped inputs every loader reads (config.json, tokenizer.json, JSONL corpora, the
 * descriptions inside factor and eigenbasis files): seeded mutations of a valid document — truncation, bit flips,
 * a value replaced by a hostile one (null, 0, −5, 2^31, ±2^63, 1e308, a fraction, a string, an array, an object,
 * a boolean, 5,000-deep nesting, a 1 MB string), a key duplicated, trailing content, inserted structural characters,
 * two values swapped — each loaded by the loader under test, which must either load it or refuse it with the clean
 * exception type, naming the file, and must stay under an allocation bound (heap bytes allocated by this thread).
 * Any other exception fails the test with the seed, the mutation log and the mutant.
 */
public final class JsonFuzz {
    private static final Pattern VALUE = Pattern.compile(
            "\"(?:[^\"\\\\]++|\\\\.)*+\"(?!\\s*:)|-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?|true|false|null");
    private static final Pattern SCALAR_MEMBER = Pattern.compile(
            "\"((?:[^\"\\\\]++|\\\\.)++)\"\\s*:\\s*(-?\\d[0-9.eE+-]*|\"(?:[^\"\\\\]++|\\\\.)*+\"|true|false|null)");
    private static final String[] HOSTILE = {"null", "0", "-5", "-1", "2147483648", "9223372036854775807",
            "-9223372036854775808", "1e308", "0.5", "\"x\"", "\"\"", "[]", "{}", "true", "[1,2]", "{\"a\":1}",
            "[".repeat(5000) + "]".repeat(5000), "\"" + "y".repeat(1 << 20) + "\""};
    private static final byte[] STRUCTURAL = "{}[]\",:\n\\ 0-".getBytes(StandardCharsets.US_ASCII);

    private JsonFuzz() {
    }

    /** Loads (and uses) one input file; throws on refusal. */
    @FunctionalInterface
    public interface Loader {
        void load(Path file) throws Exception;
    }

    /** Writes the file the loader reads from the (mutated) JSON bytes, e.g. inside a safetensors header. */
    @FunctionalInterface
    public interface FileMaker {
        void write(byte[] json, Path file) throws Exception;
    }

    /**
     * What the run saw: mutants loaded, refused cleanly, refused naming the key whose value was replaced (of those
     * where one key's value was replaced and nothing else, and the mutant was refused), the most heap bytes one load
     * allocated, and a few refusals that do not name the replaced key (key: message).
     */
    public record Outcome(int loaded, int refused, int namedField, int replacedAndRefused, long maxAllocated,
                          List<String> refusalsNotNamingTheKey) {
        @Override
        public String toString() {
            return String.format("%d mutants: %d loaded, %d refused cleanly (of %d refusals after a key's value was "
                            + "replaced, %d name that key); at most %.1f MB allocated by one load%s", loaded + refused,
                    loaded, refused, replacedAndRefused, namedField, maxAllocated / 1e6,
                    refusalsNotNamingTheKey.isEmpty() ? "" : "; not naming it: " + refusalsNotNamingTheKey);
        }
    }

    /**
     * Runs {@code mutants} seeded mutants of {@code valid} through {@code loader}.
     *
     * @param clean             the one exception type a refusal may have (subclasses allowed)
     * @param maxAllocatedBytes heap bytes one load may allocate at most
     */
    public static Outcome run(byte[] valid, long seed, int mutants, Path file, FileMaker maker, Loader loader,
                              Class<? extends Exception> clean, long maxAllocatedBytes) throws Exception {
        SplittableRandom random = new SplittableRandom(seed);
        int loaded = 0;
        int refused = 0;
        int named = 0;
        int replacedAndRefused = 0;
        long maxAllocated = 0;
        List<String> unnamed = new ArrayList<>();
        for (int i = 0; i < mutants; i++) {
            List<String> log = new ArrayList<>();
            byte[] mutant = valid;
            String replacedKey = null;
            int rounds = 1 + random.nextInt(2);
            for (int r = 0; r < rounds; r++) {
                Mutation m = mutate(mutant, random, log);
                mutant = m.bytes();
                replacedKey = rounds == 1 ? m.replacedKey() : null;   // the key's value is all that changed
            }
            maker.write(mutant, file);
            long before = allocatedBytes();
            try {
                loader.load(file);
                loaded++;
            } catch (Exception e) {
                if (!clean.isInstance(e) || e.getMessage() == null || !e.getMessage().contains(file.toString())) {
                    fail(describe(i, seed, log, mutant) + " was refused with " + e + " (expected " + clean.getName()
                            + " naming " + file + ")", e);
                }
                refused++;
                if (replacedKey != null) {
                    replacedAndRefused++;
                    if (e.getMessage().contains(replacedKey)) {
                        named++;
                    } else if (unnamed.size() < 8) {
                        unnamed.add(replacedKey + ": " + e.getMessage());
                    }
                }
            } catch (Throwable escaped) {
                fail(describe(i, seed, log, mutant) + " let " + escaped + " escape", escaped);
            }
            long allocated = allocatedBytes() - before;
            if (allocated > maxAllocatedBytes) {
                fail(describe(i, seed, log, mutant) + " allocated " + allocated + " bytes, bound " + maxAllocatedBytes);
            }
            maxAllocated = Math.max(maxAllocated, allocated);
        }
        return new Outcome(loaded, refused, named, replacedAndRefused, maxAllocated, unnamed);
    }

    private static String describe(int i, long seed, List<String> log, byte[] mutant) {
        String text = new String(mutant, StandardCharsets.UTF_8);
        return "mutant " + i + " (seed " + seed + ": " + String.join("; ", log) + ") "
                + (text.length() > 600 ? text.substring(0, 600) + "…" : text);
    }

    /** Heap bytes allocated so far by this thread (HotSpot's per-thread counter). */
    private static long allocatedBytes() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    private record Mutation(byte[] bytes, String replacedKey) {
    }

    private static Mutation mutate(byte[] in, SplittableRandom random, List<String> log) {
        String text = new String(in, StandardCharsets.UTF_8);
        switch (random.nextInt(8)) {
            case 0 -> {
                int at = random.nextInt(in.length + 1);
                log.add("truncate at " + at);
                return new Mutation(java.util.Arrays.copyOf(in, at), null);
            }
            case 1 -> {
                byte[] b = in.clone();
                if (b.length > 0) {
                    int bit = random.nextInt(8 * b.length);
                    b[bit / 8] ^= (byte) (1 << (bit % 8));
                    log.add("flip bit " + bit);
                }
                return new Mutation(b, null);
            }
            case 2, 3 -> {   // a member's value (or any value) replaced by a hostile one: wrong type, size, sign
                String hostile = HOSTILE[random.nextInt(HOSTILE.length)];
                List<int[]> members = spans(SCALAR_MEMBER, text, 2);
                if (!members.isEmpty() && random.nextBoolean()) {
                    int[] s = members.get(random.nextInt(members.size()));
                    String key = text.substring(s[2], s[3]);
                    log.add("value of \"" + key + "\" -> " + abbreviate(hostile));
                    return new Mutation(utf8(text.substring(0, s[0]) + hostile + text.substring(s[1])), key);
                }
                List<int[]> values = spans(VALUE, text, 0);
                if (values.isEmpty()) {
                    return new Mutation(in, null);
                }
                int[] s = values.get(random.nextInt(values.size()));
                log.add("value at " + s[0] + " -> " + abbreviate(hostile));
                return new Mutation(utf8(text.substring(0, s[0]) + hostile + text.substring(s[1])), null);
            }
            case 4 -> {   // a key repeated in its object: "k": v, "k": v
                List<int[]> members = spans(SCALAR_MEMBER, text, 0);
                if (members.isEmpty()) {
                    return new Mutation(in, null);
                }
                int[] s = members.get(random.nextInt(members.size()));
                String member = text.substring(s[0], s[1]);
                log.add("duplicate " + abbreviate(member));
                return new Mutation(utf8(text.substring(0, s[0]) + member + "," + text.substring(s[0])), null);
            }
            case 5 -> {
                String[] tails = {" {\"text\": \"more\"}", "]", "}", " 1", "x", "\n{}"};
                String tail = tails[random.nextInt(tails.length)];
                int at = text.lastIndexOf('}') + 1;
                log.add("trailing " + tail.strip() + " after " + at);
                return new Mutation(utf8(text.substring(0, at) + tail + text.substring(at)), null);
            }
            case 6 -> {
                int at = random.nextInt(in.length + 1);
                byte c = STRUCTURAL[random.nextInt(STRUCTURAL.length)];
                log.add("insert '" + (char) c + "' at " + at);
                byte[] b = new byte[in.length + 1];
                System.arraycopy(in, 0, b, 0, at);
                b[at] = c;
                System.arraycopy(in, at, b, at + 1, in.length - at);
                return new Mutation(b, null);
            }
            default -> {   // two values swapped (types and sizes land in each other's places)
                List<int[]> values = spans(VALUE, text, 0);
                if (values.size() < 2) {
                    return new Mutation(in, null);
                }
                int i = random.nextInt(values.size());
                int j = random.nextInt(values.size());
                if (i == j) {
                    return new Mutation(in, null);
                }
                int[] a = values.get(Math.min(i, j));
                int[] b = values.get(Math.max(i, j));
                log.add("swap values at " + a[0] + " and " + b[0]);
                return new Mutation(utf8(text.substring(0, a[0]) + text.substring(b[0], b[1])
                        + text.substring(a[1], b[0]) + text.substring(a[0], a[1]) + text.substring(b[1])), null);
            }
        }
    }

    /** [start, end) of each match, or of group {@code group}'s value with the key span of group 1 appended. */
    private static List<int[]> spans(Pattern p, String text, int group) {
        List<int[]> out = new ArrayList<>();
        Matcher m = p.matcher(text);
        while (m.find() && out.size() < 100_000) {
            out.add(group == 0 ? new int[]{m.start(), m.end()}
                    : new int[]{m.start(group), m.end(group), m.start(1), m.end(1)});
        }
        return out;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String abbreviate(String s) {
        return s.length() > 40 ? s.substring(0, 20) + "…(" + s.length() + " chars)" : s;
    }
}
