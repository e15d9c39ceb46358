package dev.curvature.engine;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The profiling proxy: results equal the plain backend's bit for bit (it only times), calls are counted per
 * operation and shape into the current section, and products carry their flops (closed form 2mnk, n(n+1)k).
 */
class ProfilingBackendTest {
    private static final CpuBackend cpu = SharedCpuBackend.get();

    @Test
    void timesCallsPerShapeAndSectionWithoutChangingResults() {
        ProfilingBackend profiler = new ProfilingBackend(cpu);
        try (Arena arena = Arena.ofShared()) {
            Tensor a = cpu.allocate(arena, DType.F32, 6, 5);
            Tensor b = cpu.allocate(arena, DType.F32, 4, 5);
            for (int i = 0; i < 30; i++) {
                a.set(Math.sin(i), i / 5, i % 5);
            }
            for (int i = 0; i < 20; i++) {
                b.set(Math.cos(i), i / 5, i % 5);
            }
            Tensor expected = cpu.allocate(arena, DType.F32, 6, 4);
            Tensor actual = cpu.allocate(arena, DType.F32, 6, 4);
            cpu.gemm(expected, a, Transpose.NONE, b, Transpose.TRANSPOSED, 1.0, 0.0);
            profiler.section("first");
            profiler.backend().gemm(actual, a, Transpose.NONE, b, Transpose.TRANSPOSED, 1.0, 0.0);
            profiler.backend().gemm(actual, a, Transpose.NONE, b, Transpose.TRANSPOSED, 1.0, 0.0);
            profiler.section("second");
            Tensor c = cpu.allocate(arena, DType.F32, 5, 5);
            profiler.backend().syrkUpper(c, a, 1.0, 0.0);
            profiler.backend().geluTanh(a, a);
            assertArrayEquals(expected.toDoubleArray(), actual.toDoubleArray());
        }
        List<ProfilingBackend.Section> sections = profiler.sections();
        ProfilingBackend.Section first = sections.stream().filter(s -> s.name().equals("first")).findFirst().orElseThrow();
        ProfilingBackend.Section second = sections.stream().filter(s -> s.name().equals("second")).findFirst()
                .orElseThrow();
        assertEquals(1, first.entries().size(), first.entries().toString());
        ProfilingBackend.Entry gemm = first.entries().getFirst();
        assertEquals("gemm(f32) NT m×n×k 6×4×5", gemm.key());
        assertEquals(2, gemm.calls());
        assertEquals(2 * (2.0 * 6 * 4 * 5), gemm.flops());
        assertTrue(first.seconds() >= gemm.seconds() && gemm.seconds() > 0, first.toString());
        assertEquals(2, second.entries().size());
        ProfilingBackend.Entry syrk = second.entries().stream().filter(e -> e.key().startsWith("syrk")).findFirst()
                .orElseThrow();
        assertEquals("syrk(f32) n×k 5×6", syrk.key());
        assertEquals(5.0 * 6 * 6, syrk.flops());
        assertTrue(ProfilingBackend.render(second).contains("geluTanh 6×5"), ProfilingBackend.render(second));
    }
}
