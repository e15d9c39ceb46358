package dev.curvature.engine;

/** Where a tensor's bytes live. A device tensor's segment carries the device address and size only. */
public enum Device {
    /** Host memory: the segment can be read and written from Java. */
    HOST,
    /** CUDA device memory: the segment is an address for native calls; Java must not dereference it. */
    CUDA
}
