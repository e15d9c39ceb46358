package dev.curvature.bindings;

/**
 * A native routine refused its arguments or reported failure. The message names the routine and,
 * where the status code identifies one, the argument at fault.
 */
public final class NativeCallException extends RuntimeException {
    private final String routine;
    private final int status;

    public NativeCallException(String routine, int status, String message) {
        super(routine + ": " + message + (status != 0 ? " (status " + status + ")" : ""));
        this.routine = routine;
        this.status = status;
    }

    /** The C function that failed, e.g. "LAPACKE_dsyevd_work". */
    public String routine() {
        return routine;
    }

    /** The routine's status code (LAPACK info), or 0 when the check happened before the call. */
    public int status() {
        return status;
    }
}
