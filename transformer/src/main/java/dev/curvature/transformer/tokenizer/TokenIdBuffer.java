package dev.curvature.transformer.tokenizer;

import java.util.Arrays;

/** A growable list of token ids without boxing. */
final class TokenIdBuffer {
    private int[] ids;
    private int size;

    TokenIdBuffer(int initialCapacity) {
        ids = new int[Math.max(initialCapacity, 8)];
    }

    void add(int id) {
        if (size == ids.length) {
            ids = Arrays.copyOf(ids, Math.multiplyExact(ids.length, 2));
        }
        ids[size++] = id;
    }

    void addAll(int[] more) {
        if (size + more.length > ids.length) {
            ids = Arrays.copyOf(ids, Math.max(Math.multiplyExact(ids.length, 2), size + more.length));
        }
        System.arraycopy(more, 0, ids, size, more.length);
        size += more.length;
    }

    int[] toArray() {
        return Arrays.copyOf(ids, size);
    }
}
