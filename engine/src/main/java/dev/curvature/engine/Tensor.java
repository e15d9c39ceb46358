package dev.curvature.engine;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;

/**
 * An n-dimensional view of typed elements in a {@link MemorySegment}: shape, strides (in elements), an element
 * offset into the storage, a dtype, a device and a name used in error messages.
 *
 * <p>Tensors do not own memory: the {@link Arena} that allocated the storage does, and its scope bounds every
 * view. Views ({@link #slice}, {@link #select}, {@link #reshape}, {@link #transpose}) share storage and never copy.
 * Freshly allocated tensors are row-major contiguous and zero-filled.
 */
public final class Tensor {
    private final MemorySegment storage;
    private final DType dtype;
    private final Device device;
    private final long offset;
    private final long[] shape;
    private final long[] strides;
    private final String name;

    private Tensor(MemorySegment storage, DType dtype, Device device, long offset, long[] shape, long[] strides,
                   String name) {
        this.storage = storage;
        this.dtype = dtype;
        this.device = device;
        this.offset = offset;
        this.shape = shape;
        this.strides = strides;
        this.name = name;
    }

    /** A zero-filled, row-major host tensor owned by {@code arena}. */
    public static Tensor allocate(Arena arena, DType dtype, long... shape) {
        long[] dims = checkShape(shape);
        long bytes = Math.multiplyExact(elementCount(dims), (long) dtype.byteSize());
        MemorySegment segment = arena.allocate(Math.max(bytes, 1), 64);
        return new Tensor(segment, dtype, Device.HOST, 0, dims, rowMajorStrides(dims), "tensor");
    }

    /** A row-major view of existing memory (host or device); the segment must hold the whole tensor. */
    public static Tensor wrap(MemorySegment segment, DType dtype, Device device, long... shape) {
        long[] dims = checkShape(shape);
        long bytes = Math.multiplyExact(elementCount(dims), (long) dtype.byteSize());
        if (segment.byteSize() < bytes) {
            throw new IllegalArgumentException("segment of " + segment.byteSize() + " bytes is too small for a "
                    + dtype + " tensor of shape " + Arrays.toString(dims) + " (" + bytes + " bytes)");
        }
        return new Tensor(segment, dtype, device, 0, dims, rowMajorStrides(dims), "tensor");
    }

    /** A row-major host view of existing host memory. */
    public static Tensor wrap(MemorySegment segment, DType dtype, long... shape) {
        return wrap(segment, dtype, Device.HOST, shape);
    }

    /** A new host tensor holding {@code values} rounded to {@code dtype}. */
    public static Tensor of(Arena arena, DType dtype, double[] values, long... shape) {
        Tensor t = allocate(arena, dtype, shape);
        if (values.length != t.size()) {
            throw new IllegalArgumentException(values.length + " values for shape " + Arrays.toString(shape));
        }
        dtype.write(t.storage, 0, values, 0, values.length);
        return t;
    }

    /** The same view under another name (the name appears in error messages: a layer, a factor, a weight). */
    public Tensor named(String newName) {
        return new Tensor(storage, dtype, device, offset, shape, strides, Objects.requireNonNull(newName));
    }

    public String name() {
        return name;
    }

    public DType dtype() {
        return dtype;
    }

    public Device device() {
        return device;
    }

    public int rank() {
        return shape.length;
    }

    /** Size of dimension {@code dim}; negative dims count from the end. */
    public long dim(int dim) {
        return shape[axis(dim)];
    }

    /** Stride of dimension {@code dim} in elements; negative dims count from the end. */
    public long stride(int dim) {
        return strides[axis(dim)];
    }

    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements. */
    public long size() {
        return elementCount(shape);
    }

    /** Offset of the first element in the storage, in elements. */
    public long offset() {
        return offset;
    }

    /** Whether the view is row-major contiguous (elements are consecutive in memory). */
    public boolean isContiguous() {
        long expected = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] != 1 && strides[d] != expected) {
                return false;
            }
            expected *= shape[d];
        }
        return true;
    }

    /**
     * The bytes this view spans, from its first element to one past its last: what a native call receives.
     * No copy; the segment shares the storage.
     */
    public MemorySegment segment() {
        long last = 0;
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 0) {
                return storage.asSlice(offset * dtype.byteSize(), 0);
            }
            last += (shape[d] - 1) * strides[d];
        }
        return storage.asSlice(offset * dtype.byteSize(), (last + 1) * dtype.byteSize());
    }

    /** The whole storage segment this view is cut from. */
    public MemorySegment storage() {
        return storage;
    }

    /** Elements [start, end) along {@code dim}; shares storage. */
    public Tensor slice(int dim, long start, long end) {
        int d = axis(dim);
        if (start < 0 || end > shape[d] || start > end) {
            throw new IndexOutOfBoundsException("slice [" + start + ", " + end + ") of dimension " + d + " (size "
                    + shape[d] + ") of " + describe());
        }
        long[] newShape = shape.clone();
        newShape[d] = end - start;
        return new Tensor(storage, dtype, device, offset + start * strides[d], newShape, strides, name);
    }

    /** The sub-tensor at {@code index} along {@code dim}, with that dimension removed; shares storage. */
    public Tensor select(int dim, long index) {
        int d = axis(dim);
        if (index < 0 || index >= shape[d]) {
            throw new IndexOutOfBoundsException("index " + index + " of dimension " + d + " (size " + shape[d]
                    + ") of " + describe());
        }
        long[] newShape = new long[shape.length - 1];
        long[] newStrides = new long[shape.length - 1];
        for (int i = 0, j = 0; i < shape.length; i++) {
            if (i != d) {
                newShape[j] = shape[i];
                newStrides[j++] = strides[i];
            }
        }
        return new Tensor(storage, dtype, device, offset + index * strides[d], newShape, newStrides, name);
    }

    /** The same elements under a new shape; the view must be contiguous. One dimension may be -1 (inferred). */
    public Tensor reshape(long... newShape) {
        if (!isContiguous()) {
            throw new IllegalStateException("reshape needs a contiguous tensor, " + describe() + " is a strided view");
        }
        long[] dims = newShape.clone();
        int inferred = -1;
        long known = 1;
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] == -1 && inferred < 0) {
                inferred = i;
            } else {
                if (dims[i] < 0) {
                    throw new IllegalArgumentException("bad dimension " + dims[i] + " in " + Arrays.toString(newShape));
                }
                known *= dims[i];
            }
        }
        if (inferred >= 0) {
            dims[inferred] = known == 0 ? 0 : size() / known;
        }
        if (elementCount(dims) != size()) {
            throw new IllegalArgumentException("cannot reshape " + describe() + " (" + size() + " elements) to "
                    + Arrays.toString(newShape));
        }
        return new Tensor(storage, dtype, device, offset, dims, rowMajorStrides(dims), name);
    }

    /**
     * Splits dimension {@code dim} (size s₀·s₁·…) into dimensions of sizes {@code sizes}, outermost first — a view
     * of any stride (no copy): e.g. packed heads (B, T, H·hs) → (B, T, H, hs).
     */
    public Tensor split(int dim, long... sizes) {
        int d = axis(dim);
        long product = 1;
        for (long size : sizes) {
            if (size < 1) {
                throw new IllegalArgumentException("split of dimension " + d + " of " + describe() + " into "
                        + Arrays.toString(sizes) + ": sizes must be >= 1");
            }
            product *= size;
        }
        if (product != shape[d]) {
            throw new IllegalArgumentException("split of dimension " + d + " (size " + shape[d] + ") of " + describe()
                    + " into " + Arrays.toString(sizes) + ": the sizes multiply to " + product);
        }
        long[] newShape = new long[shape.length + sizes.length - 1];
        long[] newStrides = new long[newShape.length];
        for (int i = 0; i < d; i++) {
            newShape[i] = shape[i];
            newStrides[i] = strides[i];
        }
        long stride = strides[d];
        for (int i = sizes.length - 1; i >= 0; i--) {
            newShape[d + i] = sizes[i];
            newStrides[d + i] = stride;
            stride *= sizes[i];
        }
        for (int i = d + 1; i < shape.length; i++) {
            newShape[i + sizes.length - 1] = shape[i];
            newStrides[i + sizes.length - 1] = strides[i];
        }
        return new Tensor(storage, dtype, device, offset, newShape, newStrides, name);
    }

    /** Swaps two dimensions (a strided view; no copy). */
    public Tensor transpose(int dim0, int dim1) {
        int a = axis(dim0);
        int b = axis(dim1);
        long[] newShape = shape.clone();
        long[] newStrides = strides.clone();
        newShape[a] = shape[b];
        newShape[b] = shape[a];
        newStrides[a] = strides[b];
        newStrides[b] = strides[a];
        return new Tensor(storage, dtype, device, offset, newShape, newStrides, name);
    }

    /** Element at {@code index} (one coordinate per dimension) as a double. Host only; for tests and small reads. */
    public double get(long... index) {
        requireHost("get");
        return dtype.get(storage, elementIndex(index));
    }

    /** Sets the element at {@code index}, rounding to the dtype. Host only; for tests and small writes. */
    public void set(double value, long... index) {
        requireHost("set");
        dtype.set(storage, elementIndex(index), value);
    }

    /** All elements in row-major order as doubles (a copy). Host only. */
    public double[] toDoubleArray() {
        requireHost("toDoubleArray");
        long n = size();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException(describe() + " is too large for a Java array");
        }
        double[] out = new double[(int) n];
        if (isContiguous()) {
            dtype.read(storage, offset, out, 0, out.length);
            return out;
        }
        long[] index = new long[shape.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = dtype.get(storage, elementIndex(index));
            increment(index);
        }
        return out;
    }

    /**
     * Reads row {@code r} of a 2-D host tensor whose rows are contiguous (stride(1) = 1, e.g. logits (N, V)) into
     * {@code into[0, dim(1))}: one row at a time, without the copy of the whole tensor {@link #toDoubleArray} makes.
     */
    public void readRow(long r, double[] into) {
        requireHost("readRow");
        if (shape.length != 2 || strides[1] != 1) {
            throw new IllegalArgumentException("readRow needs a 2-D tensor with contiguous rows, got " + describe());
        }
        java.util.Objects.checkIndex(r, shape[0]);
        dtype.read(storage, offset + r * strides[0], into, 0, (int) shape[1]);
    }

    /** Whether this view and {@code other} have the same shape. */
    public boolean sameShape(Tensor other) {
        return Arrays.equals(shape, other.shape);
    }

    /** "name F32[4, 768]" for messages. */
    public String describe() {
        return "'" + name + "' " + dtype + Arrays.toString(shape);
    }

    @Override
    public String toString() {
        return "Tensor " + describe() + (device == Device.HOST ? "" : " on " + device);
    }

    /** Row-major element index of a coordinate tuple, relative to the storage start. */
    long elementIndex(long[] index) {
        if (index.length != shape.length) {
            throw new IllegalArgumentException(index.length + " indices for " + describe());
        }
        long at = offset;
        for (int d = 0; d < shape.length; d++) {
            if (index[d] < 0 || index[d] >= shape[d]) {
                throw new IndexOutOfBoundsException("index " + Arrays.toString(index) + " out of bounds for "
                        + describe());
            }
            at += index[d] * strides[d];
        }
        return at;
    }

    private void increment(long[] index) {
        for (int d = shape.length - 1; d >= 0; d--) {
            if (++index[d] < shape[d]) {
                return;
            }
            index[d] = 0;
        }
    }

    private void requireHost(String what) {
        if (device != Device.HOST) {
            throw new IllegalStateException(what + " reads host memory, " + describe() + " lives on " + device);
        }
    }

    private int axis(int dim) {
        int d = dim < 0 ? shape.length + dim : dim;
        if (d < 0 || d >= shape.length) {
            throw new IndexOutOfBoundsException("dimension " + dim + " of " + describe());
        }
        return d;
    }

    private static long[] checkShape(long[] shape) {
        for (long s : shape) {
            if (s < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
        }
        return shape.clone();
    }

    /** The number of elements of a shape: the product of its dimensions (overflow is an ArithmeticException). */
    public static long elementCount(long... dims) {
        long n = 1;
        for (long s : dims) {
            n = Math.multiplyExact(n, s);
        }
        return n;
    }

    private static long[] rowMajorStrides(long[] dims) {
        long[] strides = new long[dims.length];
        long s = 1;
        for (int d = dims.length - 1; d >= 0; d--) {
            strides[d] = s;
            s *= Math.max(dims[d], 1);
        }
        return strides;
    }
}
