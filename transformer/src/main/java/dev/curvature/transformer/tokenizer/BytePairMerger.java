package dev.curvature.transformer.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Byte-pair encoding of one pre-tokenized piece: start from one token per byte and merge adjacent pairs by rank until
 * no adjacent pair has a merge rule. Two merge orders exist, and this class does both ({@link Order}):
 * <ul>
 *   <li>{@link Order#ALL_OCCURRENCES_OF_BEST_PAIR}, GPT-2's ({@code bpe} in openai/gpt-2 {@code encoder.py}): find the
 *       adjacent pair of lowest rank and merge <em>all</em> its non-overlapping occurrences, left to right;</li>
 *   <li>{@link Order#ONE_PAIR_AT_A_TIME}, Hugging Face tokenizers' (its priority queue) and tiktoken's: merge only the
 *       leftmost occurrence of the lowest-rank pair, then look again.</li>
 * </ul>
 * They differ only for merge lists in which a token made by rule r is an operand of a rule ranked before r (checked:
 * no rule of GPT-2's {@code vocab.bpe} uses a token made by a later rule; on the Llama 3 and cl100k-derived fixtures
 * no difference was found either, on their vocabularies or on 300,000 random words).
 *
 * <p>With {@code ignoreMerges} (tokenizer.json {@code model.ignore_merges}, set by Llama 3) a piece whose bytes are a
 * whole vocabulary token becomes that token directly, without merging.
 *
 * <p>Results are cached per piece (GPT-2 does the same). The cache is bounded: it is cleared when it reaches
 * {@link #CACHE_ENTRIES} entries, and pieces longer than {@link #CACHE_MAX_PIECE_BYTES} are not cached, so long runs
 * over varied text do not grow. Safe for concurrent use.
 */
final class BytePairMerger {
    static final int CACHE_ENTRIES = 1 << 16;
    static final int CACHE_MAX_PIECE_BYTES = 64;

    /** Which occurrences of the best pair one merge step joins. */
    enum Order {
        /** openai/gpt-2 {@code encoder.py}: every non-overlapping occurrence, left to right. */
        ALL_OCCURRENCES_OF_BEST_PAIR,
        /** Hugging Face tokenizers and tiktoken: the leftmost occurrence only. */
        ONE_PAIR_AT_A_TIME
    }

    private final int[] byteTokenIds;
    private final MergeRanks merges;
    private final String source;
    private final Order order;
    private final Map<String, Integer> wholeTokenIds;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param byteTokenIds the id of the single-byte token for each byte 0..255, or -1 where the vocabulary has none
     * @param source       the vocabulary's file(s), for error messages
     */
    BytePairMerger(int[] byteTokenIds, MergeRanks merges, String source) {
        this(byteTokenIds, merges, source, Order.ALL_OCCURRENCES_OF_BEST_PAIR, null);
    }

    /**
     * @param wholeTokenIds for {@code ignore_merges}: token id by the token's bytes read as ISO-8859-1 (one char per
     *                      byte); null to always merge
     */
    BytePairMerger(int[] byteTokenIds, MergeRanks merges, String source, Order order,
                   Map<String, Integer> wholeTokenIds) {
        if (byteTokenIds.length != 256) {
            throw new IllegalArgumentException("need 256 byte token ids, got " + byteTokenIds.length);
        }
        this.byteTokenIds = byteTokenIds.clone();
        this.merges = merges;
        this.source = source;
        this.order = order;
        this.wholeTokenIds = wholeTokenIds == null ? null : Map.copyOf(wholeTokenIds);
    }

    /** Appends the ids of piece {@code bytes[from, to)} to {@code out}. */
    void encode(byte[] bytes, int from, int to, TokenIdBuffer out) {
        int n = to - from;
        if (n == 1) {
            out.add(byteToken(bytes[from]));
            return;
        }
        if (n > CACHE_MAX_PIECE_BYTES) {
            Integer whole = wholeTokenIds == null ? null
                    : wholeTokenIds.get(new String(bytes, from, n, StandardCharsets.ISO_8859_1));
            out.addAll(whole != null ? new int[] {whole} : merge(bytes, from, to));
            return;
        }
        // ISO-8859-1 maps each byte to one char: a compact, exact key for the piece's bytes
        String key = new String(bytes, from, n, StandardCharsets.ISO_8859_1);
        int[] ids = cache.get(key);
        if (ids == null) {
            Integer whole = wholeTokenIds == null ? null : wholeTokenIds.get(key);
            ids = whole != null ? new int[] {whole} : merge(bytes, from, to);
            if (cache.size() >= CACHE_ENTRIES) {
                cache.clear();
            }
            cache.put(key, ids);
        }
        out.addAll(ids);
    }

    private int[] merge(byte[] bytes, int from, int to) {
        return order == Order.ONE_PAIR_AT_A_TIME ? mergeOnePairAtATime(bytes, from, to) : mergeAll(bytes, from, to);
    }

    private int[] mergeOnePairAtATime(byte[] bytes, int from, int to) {
        int n = to - from;
        int[] symbols = new int[n];
        for (int i = 0; i < n; i++) {
            symbols[i] = byteToken(bytes[from + i]);
        }
        while (n > 1) {
            int best = MergeRanks.NONE;
            int at = -1;
            for (int i = 0; i + 1 < n; i++) {
                int rank = merges.rank(symbols[i], symbols[i + 1]);
                if (rank < best) { // strictly lower: among equal ranks the leftmost stays
                    best = rank;
                    at = i;
                }
            }
            if (at < 0) {
                break;
            }
            symbols[at] = merges.merged(best);
            System.arraycopy(symbols, at + 2, symbols, at + 1, n - at - 2);
            n--;
        }
        return Arrays.copyOf(symbols, n);
    }

    private int[] mergeAll(byte[] bytes, int from, int to) {
        int n = to - from;
        int[] symbols = new int[n];
        for (int i = 0; i < n; i++) {
            symbols[i] = byteToken(bytes[from + i]);
        }
        while (n > 1) {
            int best = MergeRanks.NONE;
            for (int i = 0; i + 1 < n; i++) {
                best = Math.min(best, merges.rank(symbols[i], symbols[i + 1]));
            }
            if (best == MergeRanks.NONE) {
                break;
            }
            int first = merges.left(best);
            int second = merges.right(best);
            int merged = merges.merged(best);
            int w = 0;
            for (int i = 0; i < n; ) {
                if (i + 1 < n && symbols[i] == first && symbols[i + 1] == second) {
                    symbols[w++] = merged;
                    i += 2;
                } else {
                    symbols[w++] = symbols[i++];
                }
            }
            n = w;
        }
        return Arrays.copyOf(symbols, n);
    }

    private int byteToken(byte b) {
        int id = byteTokenIds[b & 0xFF];
        if (id < 0) {
            throw new IllegalArgumentException(String.format(
                    "byte 0x%02X (token '%c') has no token in the vocabulary of %s",
                    b & 0xFF, ByteLevelAlphabet.charOf(b & 0xFF), source));
        }
        return id;
    }
}
