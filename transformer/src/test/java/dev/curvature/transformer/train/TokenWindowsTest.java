package dev.curvature.transformer.train;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Evenly spaced windows against hand-computed starts. */
class TokenWindowsTest {
    static int[] range(int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = i;
        }
        return t;
    }

    @Test
    void evenlySpacedWindowsStartAtFloorOfWTimesSpanOverCountMinusOne() {
        // N = 23, T = 4, 3 windows: span N − T = 19; starts ⌊0⌋ = 0, ⌊19/2⌋ = 9, 19 (the last ends at 23)
        assertArrayEquals(new int[]{0, 1, 2, 3, 9, 10, 11, 12, 19, 20, 21, 22},
                TokenWindows.evenlySpaced(range(23), 3, 4));
        // one window: the first T tokens
        assertArrayEquals(new int[]{0, 1, 2}, TokenWindows.evenlySpaced(range(10), 1, 3));
        // N = 10, T = 3, 3 windows (9 < 10 tokens): span 7, starts 0, ⌊7/2⌋ = 3, 7 — the middle ones touch
        assertArrayEquals(new int[]{0, 1, 2, 3, 4, 5, 7, 8, 9}, TokenWindows.evenlySpaced(range(10), 3, 3));
        // asked for as many tokens as there are, or more: the consecutive windows, the tail shorter than T dropped
        assertArrayEquals(range(9), TokenWindows.evenlySpaced(range(9), 3, 3));
        assertArrayEquals(range(9), TokenWindows.evenlySpaced(range(10), 5, 3));
        assertThrows(IllegalArgumentException.class, () -> TokenWindows.evenlySpaced(range(2), 1, 3));
        assertThrows(IllegalArgumentException.class, () -> TokenWindows.evenlySpaced(range(9), 0, 3));
    }

    @Test
    void batchesShiftTargetsByOneAndEachEpochVisitsEveryWindowOnce() {
        // reference: naive index arithmetic; windows of T = 4 at stride 3 over 0..18 (19 tokens): starts 0, 3, …, 15
        int[] tokens = range(19);
        TokenWindows windows = new TokenWindows(tokens, 4, 3, 11);
        assertEquals(6, windows.count());
        int batch = 2;
        for (int epoch = 0; epoch < 2; epoch++) {
            java.util.Set<Integer> starts = new java.util.HashSet<>();
            for (long step = epoch * 3L; step < epoch * 3L + 3; step++) {
                int[] ids = new int[batch * 4];
                int[] targets = new int[batch * 4];
                windows.batch(step, batch, ids, targets);
                for (int b = 0; b < batch; b++) {
                    int start = ids[b * 4];
                    assertEquals(0, start % 3, "a window starts at a multiple of the stride: " + start);
                    starts.add(start);
                    for (int t = 0; t < 4; t++) {
                        assertEquals(start + t, ids[b * 4 + t]);
                        assertEquals(t < 3 ? start + t + 1 : -1, targets[b * 4 + t]);
                    }
                }
            }
            assertEquals(java.util.Set.of(0, 3, 6, 9, 12, 15), starts, "epoch " + epoch);
        }
        // consecutive windows 2 and 3 of T = 4: tokens 8..15
        int[] ids = new int[8];
        int[] targets = new int[8];
        TokenWindows.consecutive(tokens, 2, 2, 4, ids, targets);
        assertArrayEquals(new int[]{8, 9, 10, 11, 12, 13, 14, 15}, ids);
        assertArrayEquals(new int[]{9, 10, 11, -1, 13, 14, 15, -1}, targets);
    }
}
