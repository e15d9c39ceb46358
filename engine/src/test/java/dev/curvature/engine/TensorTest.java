package dev.curvature.engine;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Views share storage and index like the row-major formula offset = Σ index_d · stride_d (the reference). */
class TensorTest {

    @Test
    void viewsShareStorageAndIndexByStrides() {
        try (Arena arena = Arena.ofConfined()) {
            double[] values = new double[2 * 3 * 4];
            for (int i = 0; i < values.length; i++) {
                values[i] = i;
            }
            Tensor t = Tensor.of(arena, DType.F64, values, 2, 3, 4);
            assertEquals(1 * 12 + 2 * 4 + 3, t.get(1, 2, 3));
            Tensor slice = t.slice(2, 1, 3);                    // (2, 3, 2)
            assertArrayEquals(new long[]{2, 3, 2}, slice.shape());
            assertFalse(slice.isContiguous());
            assertEquals(1 * 12 + 2 * 4 + 2, slice.get(1, 2, 1));
            Tensor row = t.select(0, 1).select(0, 2);           // (4): elements 20..23
            assertArrayEquals(new double[]{20, 21, 22, 23}, row.toDoubleArray());
            Tensor transposed = t.select(0, 0).transpose(0, 1); // (4, 3)
            assertEquals(2 * 4 + 1, transposed.get(1, 2));
            slice.set(-1, 0, 0, 0);
            assertEquals(-1, t.get(0, 0, 1));                   // writes through the view
            Tensor flat = t.reshape(-1, 8);
            assertArrayEquals(new long[]{3, 8}, flat.shape());
            assertEquals(t.get(1, 0, 0), flat.get(1, 4));
            assertEquals(12 * 8, t.select(0, 1).segment().byteSize()); // one (3, 4) block of doubles
        }
    }

    @Test
    void segmentSpansFirstToLastElement() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.allocate(arena, DType.F32, 10, 6);
            Tensor columns = t.slice(1, 2, 5);                  // rows 0..9, columns 2..4
            // from element (0,2) to element (9,4): 9·6 + 4 − 2 + 1 = 57 floats
            assertEquals(57 * 4, columns.segment().byteSize());
            assertEquals(2 * 4, columns.segment().address() - t.segment().address());
        }
    }

    @Test
    void badIndexAndReshapeNameTheTensor() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.allocate(arena, DType.F32, 3, 4).named("wte");
            var e = assertThrows(IndexOutOfBoundsException.class, () -> t.get(3, 0));
            assertTrue(e.getMessage().contains("'wte'"), e.getMessage());
            var r = assertThrows(IllegalArgumentException.class, () -> t.reshape(5, 3));
            assertTrue(r.getMessage().contains("'wte'"), r.getMessage());
            var s = assertThrows(IllegalStateException.class, () -> t.transpose(0, 1).reshape(12));
            assertTrue(s.getMessage().contains("strided"), s.getMessage());
        }
    }

    @Test
    void readRowOfAColumnSliceMatchesElementReads() {
        // reference: element-by-element get on the same view
        try (Arena arena = Arena.ofConfined()) {
            double[] values = new double[3 * 5];
            for (int i = 0; i < values.length; i++) {
                values[i] = i * 0.5 - 3;
            }
            Tensor t = Tensor.of(arena, DType.F32, values, 3, 5);
            Tensor view = t.slice(1, 1, 4);   // (3, 3), row stride 5
            double[] row = new double[3];
            for (int r = 0; r < 3; r++) {
                view.readRow(r, row);
                for (int c = 0; c < 3; c++) {
                    assertEquals(view.get(r, c), row[c], 0.0, "row " + r + " column " + c);
                }
            }
            assertThrows(IllegalArgumentException.class, () -> t.transpose(0, 1).readRow(0, new double[3]));
            assertThrows(IndexOutOfBoundsException.class, () -> view.readRow(3, row));
        }
    }

    @Test
    void splitIsAViewOfAnyStrideAndNamesBadSizes() {
        try (Arena arena = Arena.ofConfined()) {
            double[] values = new double[2 * 3 * 12];
            for (int i = 0; i < values.length; i++) {
                values[i] = i;
            }
            // packed rows (2, 3, 12) → a column slice (2, 3, 6) → heads (2, 3, 2, 3): element (b, t, h, c) is
            // column 6 + 3h + c of row (b, t)
            Tensor packed = Tensor.of(arena, DType.F64, values, 2, 3, 12);
            Tensor heads = packed.slice(2, 6, 12).split(2, 2, 3);
            assertArrayEquals(new long[]{2, 3, 2, 3}, heads.shape());
            for (int b = 0; b < 2; b++) {
                for (int t = 0; t < 3; t++) {
                    for (int h = 0; h < 2; h++) {
                        for (int c = 0; c < 3; c++) {
                            assertEquals(values[(b * 3 + t) * 12 + 6 + 3 * h + c], heads.get(b, t, h, c), 0.0);
                        }
                    }
                }
            }
            assertEquals(values[(1 * 3 + 2) * 12 + 6 + 3 + 1], heads.transpose(1, 2).get(1, 1, 2, 1), 0.0);
            IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> packed.split(2, 5, 2));
            assertTrue(bad.getMessage().contains("multiply to 10"), bad.getMessage());
        }
    }
}
