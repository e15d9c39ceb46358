package dev.curvature.transformer.train;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
}
