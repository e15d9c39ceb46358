package dev.curvature.transformer.model;

import dev.curvature.engine.Backend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;

import java.lang.foreign.Arena;

/** Keys and values (B, P, K) of every block in one arena, and a B·H·P scores scratch for decoding. */
final class DecoderKvCache implements KvCache {
    private final int batch;
    private final int length;
    private final Arena arena = Arena.ofShared();
    private final Tensor[] keys;
    private final Tensor[] values;
    private final Tensor scores;

    DecoderKvCache(Backend backend, DType dtype, int layers, int batch, int length, int keyWidth, int heads) {
        this.batch = batch;
        this.length = length;
        keys = new Tensor[layers];
        values = new Tensor[layers];
        for (int l = 0; l < layers; l++) {
            keys[l] = backend.allocate(arena, dtype, batch, length, keyWidth).named("block " + l + " key cache");
            values[l] = backend.allocate(arena, dtype, batch, length, keyWidth).named("block " + l + " value cache");
        }
        scores = backend.allocate(arena, dtype, (long) batch * heads * length).named("decode scores");
    }

    @Override
    public int batch() {
        return batch;
    }

    @Override
    public int length() {
        return length;
    }

    @Override
    public Tensor keys(int block) {
        return keys[block];
    }

    @Override
    public Tensor values(int block) {
        return values[block];
    }

    @Override
    public Tensor scores() {
        return scores;
    }

    @Override
    public void close() {
        arena.close();
    }
}
