package dev.curvature.transformer.model;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

/**
 * The buffers of a workspace in one shared arena, named for the memory plan, freed together by {@link #close}.
 * Every family's workspace allocates through {@link #alloc}.
 */
public abstract class WorkspaceBuffers implements Workspace {
    public final int batch;
    public final int time;
    private final Arena arena = Arena.ofShared();
    private final Backend backend;
    private final List<Tensor> all = new ArrayList<>();

    protected WorkspaceBuffers(Backend backend, int batch, int time) {
        this.backend = backend;
        this.batch = batch;
        this.time = time;
    }

    /** A zero-filled buffer of this workspace, named for the memory plan. */
    protected final Tensor alloc(DType dtype, String name, long... shape) {
        Tensor t = backend.allocate(arena, dtype, shape).named(name);
        all.add(t);
        return t;
    }

    /** (B·T, W) rows viewed as (B, T, W). */
    public final Tensor batched(Tensor rows) {
        return rows.reshape(batch, time, rows.dim(1));
    }

    @Override
    public int batch() {
        return batch;
    }

    @Override
    public int time() {
        return time;
    }

    @Override
    public long bytes() {
        long total = 0;
        for (Tensor t : all) {
            total += t.size() * t.dtype().byteSize();
        }
        return total;
    }

    @Override
    public String memoryPlan() {
        List<Tensor> sorted = new ArrayList<>(all);
        sorted.sort((a, b) -> Long.compare(b.size() * b.dtype().byteSize(), a.size() * a.dtype().byteSize()));
        StringBuilder s = new StringBuilder(String.format("activations for batch %d × %d tokens: %.1f MiB in %d buffers%n",
                batch, time, bytes() / 1048576.0, all.size()));
        for (int i = 0; i < Math.min(5, sorted.size()); i++) {
            Tensor t = sorted.get(i);
            s.append(String.format("  %-22s %8.1f MiB%n", t.name(), t.size() * t.dtype().byteSize() / 1048576.0));
        }
        return s.toString();
    }

    @Override
    public void close() {
        arena.close();
    }
}
