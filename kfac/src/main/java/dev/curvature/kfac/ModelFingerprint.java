package dev.curvature.kfac;

import dev.curvature.engine.Tensor;
import dev.curvature.transformer.model.ParameterSet;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;

/**
 * "sha256:…" over every parameter's name, shape and value (as float64, so the same weights loaded in F32 or F64
 * give the same fingerprint): factor files record it, and merge/edit refuse factors of another model.
 */
public final class ModelFingerprint {
    private ModelFingerprint() {
    }

    public static String of(ParameterSet weights) {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 unavailable", e);
        }
        java.nio.ByteBuffer buffer = java.nio.ByteBuffer.allocate(8 * 4096);
        for (Map.Entry<String, Tensor> e : weights.all().entrySet()) {
            digest.update(e.getKey().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            for (long d : e.getValue().shape()) {
                digest.update(java.nio.ByteBuffer.allocate(8).putLong(d).array());
            }
            Tensor t = e.getValue();
            double[] chunk = new double[4096];
            for (long at = 0; at < t.size(); at += chunk.length) {
                int n = (int) Math.min(chunk.length, t.size() - at);
                t.dtype().read(t.storage(), t.offset() + at, chunk, 0, n);
                buffer.clear();
                for (int i = 0; i < n; i++) {
                    buffer.putDouble(chunk[i]);
                }
                digest.update(buffer.array(), 0, n * 8);
            }
        }
        return "sha256:" + HexFormat.of().formatHex(digest.digest());
    }

    /** Refuses factors (or eigenbases) collected on another model: {@code expected} is their recorded fingerprint. */
    public static void require(ParameterSet weights, String expected) {
        String fingerprint = of(weights);
        if (!fingerprint.equals(expected)) {
            throw new IllegalArgumentException("the factors were collected on another model (" + expected
                    + "), this model is " + fingerprint);
        }
    }
}
