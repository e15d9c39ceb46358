package dev.curvature.transformer.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds added tokens in text, leftmost first and, among those starting at the same place, longest first (the
 * leftmost-longest rule of Hugging Face tokenizers' added vocabulary), and cuts the text around them.
 */
final class AddedTokenMatcher {
    /** Receives the text between added tokens and the tokens themselves, in order. */
    interface SegmentSink {
        void text(int start, int end);

        /** {@code token} occupies {@code text[start, end)}. */
        void addedToken(AddedToken token, int start, int end);
    }

    private final Map<Character, AddedToken[]> byFirstChar = new HashMap<>();
    private final boolean[] asciiFirst = new boolean[128];

    AddedTokenMatcher(List<AddedToken> tokens) {
        Map<Character, List<AddedToken>> groups = new HashMap<>();
        for (AddedToken t : tokens) {
            groups.computeIfAbsent(t.content().charAt(0), c -> new ArrayList<>()).add(t);
        }
        groups.forEach((c, group) -> {
            group.sort(Comparator.comparingInt((AddedToken t) -> t.content().length()).reversed());
            byFirstChar.put(c, group.toArray(AddedToken[]::new));
            if (c < 128) {
                asciiFirst[c] = true;
            }
        });
    }

    /** Calls {@code sink} for each non-empty stretch of ordinary text and each added token in {@code text}. */
    void split(String text, SegmentSink sink) {
        int n = text.length();
        int segmentStart = 0;
        int i = 0;
        while (i < n) {
            AddedToken match = matchAt(text, i);
            if (match == null) {
                i++;
                continue;
            }
            if (i > segmentStart) {
                sink.text(segmentStart, i);
            }
            sink.addedToken(match, i, i + match.content().length());
            i += match.content().length();
            segmentStart = i;
        }
        if (n > segmentStart) {
            sink.text(segmentStart, n);
        }
    }

    private AddedToken matchAt(String text, int i) {
        char c = text.charAt(i);
        if (c < 128 && !asciiFirst[c]) {
            return null;
        }
        AddedToken[] candidates = byFirstChar.get(c);
        if (candidates != null) {
            for (AddedToken t : candidates) {
                if (text.startsWith(t.content(), i)) {
                    return t;
                }
            }
        }
        return null;
    }
}
