package dev.curvature.kfac;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The compact mask. Reference: the pairs of small staircases written out by hand. */
class ComponentMaskTest {

    @Test
    void staircaseAndItsComplementKeepTheHandWrittenPairs() {
        // rows keep 3, 1, 0 of 4 columns:  x x x .   complement:  . . . x
        //                                   x . . .                . x x x
        //                                   . . . .                x x x x
        ComponentMask mask = ComponentMask.staircase(4, new int[] {3, 1, 0});
        ComponentMask complement = mask.complement();
        String expected = "xxx.x.......";
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 4; j++) {
                boolean kept = expected.charAt(i * 4 + j) == 'x';
                assertEquals(kept, mask.contains(i, j), "(" + i + ", " + j + ")");
                assertEquals(!kept, complement.contains(i, j), "(" + i + ", " + j + ")");
            }
        }
        assertEquals(4, mask.pairCount());
        assertEquals(8, complement.pairCount());
        assertEquals(2, mask.gEigenvectorsUsed());
        assertEquals(3, mask.aEigenvectorsUsed());
        assertEquals(3, complement.gEigenvectorsUsed());
        assertEquals(4, complement.aEigenvectorsUsed());
        assertEquals(1, complement.rowStart(1));
        assertEquals(4, complement.rowEnd(1));
        assertEquals(mask, complement.complement());
    }

    @Test
    void masksAreEqualWhenTheyKeepTheSamePairs() {
        // keeping every pair as a full staircase, or as the complement of the empty one
        assertEquals(ComponentMask.all(3, 2), ComponentMask.none(3, 2).complement());
        assertEquals(ComponentMask.all(3, 2).hashCode(), ComponentMask.none(3, 2).complement().hashCode());
        assertEquals(ComponentMask.none(3, 2), ComponentMask.all(3, 2).complement());
        assertNotEquals(ComponentMask.none(3, 2), ComponentMask.none(2, 3));
        assertTrue(ComponentMask.rectangle(3, 2, 2, 1).toString().contains("2 pairs kept"));
    }

    @Test
    void aBandKeepsOneRunPerRowAndCountsItsColumns() {
        // the band between staircases (2, 1, 0) and (4, 3, 1) of 5 columns:  . . x x .
        //                                                                    . x x . .
        //                                                                    x . . . .
        ComponentMask band = ComponentMask.runs(5, new int[]{2, 1, 0}, new int[]{4, 3, 1});
        String kept = "..xx..xx..x....";
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 5; j++) {
                assertEquals(kept.charAt(i * 5 + j) == 'x', band.contains(i, j), "(" + i + ", " + j + ")");
            }
        }
        assertEquals(5, band.pairCount());
        assertEquals(3, band.gEigenvectorsUsed());
        assertEquals(4, band.aEigenvectorsUsed());
        assertEquals("[1, 1, 2, 1, 0]", java.util.Arrays.toString(band.columnCounts()));
        assertTrue(band.toString().contains("one run of columns per row"), band::toString);
        // a run inside a row has a complement of two runs
        IllegalStateException e = assertThrows(IllegalStateException.class, band::complement);
        assertTrue(e.getMessage().contains("row 0"), e.getMessage());
        // runs touching an edge complement fine: the top band's complement is everything below it
        ComponentMask top = ComponentMask.runs(5, new int[3], new int[]{2, 1, 0});
        assertEquals(ComponentMask.staircase(5, new int[]{2, 1, 0}), top);
        assertEquals(ComponentMask.staircase(5, new int[]{2, 1, 0}).complement(), top.complement());
        assertThrows(IllegalArgumentException.class, () -> ComponentMask.runs(5, new int[]{3}, new int[]{2}));
        assertThrows(IllegalArgumentException.class, () -> ComponentMask.runs(5, new int[]{0}, new int[]{6}));
    }

    @Test
    void rowLengthsMustBeAStaircase() {
        assertThrows(IllegalArgumentException.class, () -> ComponentMask.staircase(4, new int[] {1, 2}));
        assertThrows(IllegalArgumentException.class, () -> ComponentMask.staircase(4, new int[] {5}));
    }
}
