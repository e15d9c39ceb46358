package dev.curvature.kfac.probe;

import dev.curvature.engine.Backend;
import dev.curvature.engine.Device;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.model.ParameterSet;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A vector over a {@link ParameterSelection}: one tensor per selected parameter, shaped like it, read as the
 * concatenation of their row-major elements (length N = selection size). Either a view of a {@link ParameterSet}'s
 * tensors (the weights themselves, or their gradients) or a vector of its own memory, owned by the arena it was
 * allocated in. The linear algebra goes through the {@link Backend}, tensor by tensor, in selection order (sums in
 * that order: the results do not depend on the thread count).
 */
public final class ParameterVector {
    private final Backend backend;
    private final List<Tensor> parts;
    private final long size;

    private ParameterVector(Backend backend, List<Tensor> parts) {
        this.backend = backend;
        this.parts = List.copyOf(parts);
        long n = 0;
        for (Tensor t : parts) {
            n += t.size();
        }
        this.size = n;
    }

    /** The selected tensors of {@code set} themselves (writing the vector writes them). */
    public static ParameterVector view(Backend backend, ParameterSet set, ParameterSelection selection) {
        List<Tensor> parts = new ArrayList<>();
        for (String name : selection.names()) {
            parts.add(set.get(name));
        }
        return new ParameterVector(backend, parts);
    }

    /** A zero vector shaped like {@code like}, in its dtype, owned by {@code arena}. */
    public static ParameterVector zerosLike(Arena arena, ParameterVector like) {
        List<Tensor> parts = new ArrayList<>();
        for (Tensor t : like.parts) {
            parts.add(like.backend.allocate(arena, t.dtype(), t.shape()).named(t.name()));
        }
        return new ParameterVector(like.backend, parts);
    }

    /** The backend the linear algebra runs on. */
    public Backend backend() {
        return backend;
    }

    /** N, the number of elements. */
    public long size() {
        return size;
    }

    /** The tensors, in selection order. */
    public List<Tensor> parts() {
        return parts;
    }

    /** vᵀw, accumulated in double. */
    public double dot(ParameterVector other) {
        requireSameShape(other);
        double s = 0;
        for (int i = 0; i < parts.size(); i++) {
            s += backend.dot(parts.get(i), other.parts.get(i));
        }
        return s;
    }

    /** ‖v‖₂. */
    public double norm() {
        return Math.sqrt(backend.sumOfSquares(parts));
    }

    /** Accumulates this += alpha · x. */
    public void axpy(double alpha, ParameterVector x) {
        requireSameShape(x);
        for (int i = 0; i < parts.size(); i++) {
            backend.axpy(parts.get(i), x.parts.get(i), alpha);
        }
    }

    /** Writes this = alpha · this. */
    public void scale(double alpha) {
        for (Tensor t : parts) {
            backend.scale(t, t, alpha);
        }
    }

    /** Writes this = x. */
    public void copyFrom(ParameterVector x) {
        requireSameShape(x);
        for (int i = 0; i < parts.size(); i++) {
            backend.copy(parts.get(i), x.parts.get(i));
        }
    }

    /** Writes every element to {@code value}. */
    public void fill(double value) {
        for (Tensor t : parts) {
            backend.fill(t, value);
        }
    }

    /**
     * Writes i.i.d. N(0, std²) elements, drawn in element order from {@code random} (Box–Muller, one uniform pair per
     * draw): the same vector for the same generator state on every backend. Host tensors only.
     */
    public void fillGaussian(SplittableRandom random, double std) {
        for (Tensor t : parts) {
            requireHost(t);
            int block = (int) Math.min(t.size(), 1 << 16);
            double[] values = new double[block];
            for (long from = 0; from < t.size(); from += block) {
                int length = (int) Math.min(block, t.size() - from);
                for (int i = 0; i < length; i++) {
                    values[i] = std * gaussian(random);
                }
                t.dtype().write(t.storage(), t.offset() + from, values, 0, length);
            }
        }
    }

    /** The N elements as one array (for small vectors: tests, reports). */
    public double[] toArray() {
        double[] out = new double[Math.toIntExact(size)];
        int at = 0;
        for (Tensor t : parts) {
            double[] v = t.toDoubleArray();
            System.arraycopy(v, 0, out, at, v.length);
            at += v.length;
        }
        return out;
    }

    /** Writes the elements from {@code values} (length N, in {@link #toArray()}'s order). Host tensors only. */
    public void set(double[] values) {
        if (values.length != size) {
            throw new IllegalArgumentException(values.length + " values for a parameter vector of " + size);
        }
        int at = 0;
        for (Tensor t : parts) {
            requireHost(t);
            if (!t.isContiguous()) {
                throw new IllegalArgumentException(t.describe() + " is not contiguous");
            }
            t.dtype().write(t.storage(), t.offset(), values, at, (int) t.size());
            at += (int) t.size();
        }
    }

    /** A standard normal sample (Box–Muller). */
    static double gaussian(SplittableRandom random) {
        double u = 1.0 - random.nextDouble();
        double v = random.nextDouble();
        return Math.sqrt(-2.0 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    private void requireSameShape(ParameterVector other) {
        if (other.parts.size() != parts.size()) {
            throw new IllegalArgumentException("parameter vectors over " + parts.size() + " and "
                    + other.parts.size() + " tensors");
        }
        for (int i = 0; i < parts.size(); i++) {
            if (!parts.get(i).sameShape(other.parts.get(i))) {
                throw new IllegalArgumentException("parameter vectors differ at " + parts.get(i).describe() + " vs "
                        + other.parts.get(i).describe());
            }
        }
    }

    private static void requireHost(Tensor t) {
        if (t.device() != Device.HOST) {
            throw new IllegalArgumentException(t.describe() + " is not in host memory");
        }
    }
}
