package dev.curvature.bindings;

/** A native library or one of its symbols is missing; the message says what to install. */
public final class MissingNativeLibraryException extends RuntimeException {
    public MissingNativeLibraryException(String message) {
        super(message);
    }
}
