package dev.curvature.transformer.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Byte-pair encoding of one pre-tokenized piece, GPT-2's algorithm ({@code bpe} in openai/gpt-2 {@code encoder.py}):
 * start from one token per byte; repeatedly find the adjacent pair of lowest merge rank and merge <em>all</em> its
 * non-overlapping occurrences, left to right; stop when no adjacent pair has a merge rule.
 *
 * <p>This differs from the one-merge-at-a-time priority queue of Hugging Face tokenizers and tiktoken only for
 * merge lists in which a token made by rule r is an operand of a rule ranked before r (checked: no rule of GPT-2's
 * {@code vocab.bpe} uses a token made by a later rule).
 *
 * <p>Results are cached per piece (GPT-2 does the same). The cache is bounded: it is cleared when it reaches
 * {@link #CACHE_ENTRIES} entries, and pieces longer than {@link #CACHE_MAX_PIECE_BYTES} are not cached, so long runs
 * over varied text do not grow. Safe for concurrent use.
 */
final class BytePairMerger {
    static final int CACHE_ENTRIES = 1 << 16;
    static final int CACHE_MAX_PIECE_BYTES = 64;

    private final int[] byteTokenIds;
    private final MergeRanks merges;
    private final String source;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param byteTokenIds the id of the single-byte token for each byte 0..255, or -1 where the vocabulary has none
     * @param source       the vocabulary's file(s), for error messages
     */
    BytePairMerger(int[] byteTokenIds, MergeRanks merges, String source) {
        if (byteTokenIds.length != 256) {
            throw new IllegalArgumentException("need 256 byte token ids, got " + byteTokenIds.length);
        }
        this.byteTokenIds = byteTokenIds.clone();
        this.merges = merges;
        this.source = source;
    }

    /** Appends the ids of piece {@code bytes[from, to)} to {@code out}. */
    void encode(byte[] bytes, int from, int to, TokenIdBuffer out) {
        int n = to - from;
        if (n == 1) {
            out.add(byteToken(bytes[from]));
            return;
        }
        if (n > CACHE_MAX_PIECE_BYTES) {
            out.addAll(merge(bytes, from, to));
            return;
        }
        // ISO-8859-1 maps each byte to one char: a compact, exact key for the piece's bytes
        String key = new String(bytes, from, n, StandardCharsets.ISO_8859_1);
        int[] ids = cache.get(key);
        if (ids == null) {
            ids = merge(bytes, from, to);
            if (cache.size() >= CACHE_ENTRIES) {
                cache.clear();
            }
            cache.put(key, ids);
        }
        out.addAll(ids);
    }

    private int[] merge(byte[] bytes, int from, int to) {
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
