package dev.curvature.transformer.tokenizer;

import java.util.Arrays;

/**
 * BPE merge rules on token ids. Rule {@code r} (its line or index in the merges file; lower merges first) joins
 * {@code left(r)} and {@code right(r)} into {@code merged(r)}. A pair listed twice keeps its later rank, as in
 * openai/gpt-2 ({@code dict(zip(merges, range(...)))}) and Hugging Face tokenizers.
 *
 * <p>Pair lookup is an open-addressing hash table on the key {@code left << 32 | right}: the hot call of encoding.
 */
final class MergeRanks {
    /** Rank of a pair that has no merge rule: larger than every real rank. */
    static final int NONE = Integer.MAX_VALUE;
    private static final long EMPTY = -1L;

    private final int[] left;
    private final int[] right;
    private final int[] merged;
    private final long[] keys;
    private final int[] ranks;
    private final int mask;

    MergeRanks(int[] left, int[] right, int[] merged) {
        if (left.length != right.length || left.length != merged.length) {
            throw new IllegalArgumentException("merge arrays differ in length");
        }
        this.left = left.clone();
        this.right = right.clone();
        this.merged = merged.clone();
        int capacity = Integer.highestOneBit(Math.max(4, left.length * 2 + 1)) << 1;
        keys = new long[capacity];
        ranks = new int[capacity];
        mask = capacity - 1;
        Arrays.fill(keys, EMPTY);
        for (int r = 0; r < left.length; r++) {
            long key = key(left[r], right[r]);
            int slot = slot(key);
            while (keys[slot] != EMPTY && keys[slot] != key) {
                slot = (slot + 1) & mask;
            }
            keys[slot] = key;
            ranks[slot] = r;
        }
    }

    /** The rank of merging {@code leftId} with {@code rightId}, or {@link #NONE}. */
    int rank(int leftId, int rightId) {
        long key = key(leftId, rightId);
        for (int slot = slot(key); ; slot = (slot + 1) & mask) {
            long k = keys[slot];
            if (k == key) {
                return ranks[slot];
            }
            if (k == EMPTY) {
                return NONE;
            }
        }
    }

    int left(int rank) {
        return left[rank];
    }

    int right(int rank) {
        return right[rank];
    }

    int merged(int rank) {
        return merged[rank];
    }

    private static long key(int leftId, int rightId) {
        return ((long) leftId << 32) | (rightId & 0xFFFFFFFFL);
    }

    private int slot(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 29)) & mask;
    }
}
