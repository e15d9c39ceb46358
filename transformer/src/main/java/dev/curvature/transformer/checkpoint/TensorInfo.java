package dev.curvature.transformer.checkpoint;

import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor as a safetensors header declares it: name, dtype, shape (row-major), the file holding it, and its
 * byte range {@code [dataBegin, dataEnd)} relative to the start of that file's data section.
 */
public record TensorInfo(String name, DType dtype, long[] shape, Path file, long dataBegin, long dataEnd) {
    public TensorInfo {
        Objects.requireNonNull(name);
        Objects.requireNonNull(dtype);
        Objects.requireNonNull(file);
        shape = shape.clone();
    }

    /** The shape (a copy). */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements (the header was checked, so this does not overflow). */
    public long elementCount() {
        return Tensor.elementCount(shape);
    }

    /** Bytes of data: {@code dataEnd - dataBegin}. */
    public long byteSize() {
        return dataEnd - dataBegin;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape)
                && file.equals(t.file) && dataBegin == t.dataBegin && dataEnd == t.dataEnd;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), file, dataBegin, dataEnd);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + " in " + file + " [" + dataBegin + ", " + dataEnd + ")";
    }
}
