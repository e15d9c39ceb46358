package dev.curvature.transformer.checkpoint;

import dev.curvature.engine.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.TreeMap;

/**
 * One memory-mapped {@code .safetensors} file. {@link #open} maps the file, parses and validates the whole header
 * (see {@link SafetensorsHeader} for the layout and the checks); {@link #tensor} then returns zero-copy views.
 *
 * <p>Owns a shared {@link Arena} holding the mapping (views may be read from any thread); {@link #close()} unmaps.
 * The file must not be truncated while mapped (the OS would fault on access to the lost pages).
 */
public final class SafetensorsFile implements Checkpoint {
    private final Path file;
    private final Arena arena;
    private final MemorySegment data;
    private final SafetensorsHeader header;
    private final Map<String, TensorInfo> byName;

    private SafetensorsFile(Path file, Arena arena, MemorySegment data, SafetensorsHeader header) {
        this.file = file;
        this.arena = arena;
        this.data = data;
        this.header = header;
        Map<String, TensorInfo> map = new TreeMap<>();
        for (TensorInfo t : header.tensors) {
            map.put(t.name(), t);
        }
        this.byName = Collections.unmodifiableMap(map);
    }

    /**
     * Maps {@code file} read-only and validates its header.
     *
     * @throws CheckpointFormatException if the file is not a safetensors file curvature can read; the message
     *                                   names the file and the tensor at fault
     * @throws IOException               if the file cannot be opened or mapped
     */
    public static SafetensorsFile open(Path file) throws IOException {
        requireLittleEndianHost();
        dev.curvature.transformer.data.InputFiles.requireRegular(file, Long.MAX_VALUE);
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = channel.size();
            MemorySegment content = size < 8
                    ? MemorySegment.ofArray(Files.readAllBytes(file))   // too short; parse says so without a mapping
                    : channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            SafetensorsHeader header = SafetensorsHeader.parse(file, content);
            return new SafetensorsFile(file, arena, content.asSlice(header.dataStart()), header);
        } catch (Throwable t) {
            arena.close();
            throw t;
        }
    }

    @Override
    public Path path() {
        return file;
    }

    @Override
    public List<String> names() {
        return List.copyOf(byName.keySet());
    }

    @Override
    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    @Override
    public TensorInfo info(String name) {
        TensorInfo t = byName.get(name);
        if (t == null) {
            throw new NoSuchElementException(file + ": no tensor " + CheckpointFormatException.quote(name));
        }
        return t;
    }

    /** Tensors in data order (by byte offset), as the header lists them once sorted. */
    public List<TensorInfo> tensorsInDataOrder() {
        return new ArrayList<>(header.tensors);
    }

    @Override
    public Tensor tensor(String name) {
        TensorInfo t = info(name);
        MemorySegment bytes = data.asSlice(t.dataBegin(), t.byteSize());
        return Tensor.wrap(bytes, t.dtype(), t.shape()).named(name);
    }

    @Override
    public Map<String, String> metadata() {
        return header.metadata;
    }

    /** N, the header length in bytes; the data section starts at byte 8 + N. */
    public long headerLength() {
        return header.headerLength;
    }

    @Override
    public void close() {
        arena.close();
    }

    static void requireLittleEndianHost() {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new UnsupportedOperationException("safetensors data are little-endian and curvature maps them "
                    + "without byte swapping; this host is " + ByteOrder.nativeOrder());
        }
    }
}
