package dev.curvature.engine;

/** A tensor holds NaN or ±Inf where the computation needs finite numbers; the message names the tensor. */
public final class NonFiniteTensorException extends IllegalArgumentException {
    private final String tensorName;

    public NonFiniteTensorException(String tensorName, String message) {
        super(message);
        this.tensorName = tensorName;
    }

    /** The name of the offending tensor (a layer's factor, a weight, ...). */
    public String tensorName() {
        return tensorName;
    }
}
