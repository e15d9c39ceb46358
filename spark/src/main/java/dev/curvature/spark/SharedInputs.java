package dev.curvature.spark;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;
import org.apache.spark.deploy.SparkHadoopUtil;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * Inputs named by a Hadoop FileSystem URI ({@code hdfs://…}, {@code s3a://…}, {@code file:///…}) for a library that
 * memory-maps local files: a model directory is copied once per JVM into a local cache, a corpus shard's bytes are
 * read through the FileSystem. A plain path (no scheme) is used as it is. The FileSystem settings are Spark's
 * ({@code spark.hadoop.*} included).
 */
final class SharedInputs {
    /** "scheme://…" with a scheme of two or more letters (so "C:/x" is not one). */
    private static final Pattern URI_LIKE = Pattern.compile("^[A-Za-z][A-Za-z0-9+.-]+://.*");

    private SharedInputs() {
    }

    /** Where model copies go: -Dcurvature.modelCache, else java.io.tmpdir/curvature-models. */
    static Path cacheRoot() {
        String configured = System.getProperty("curvature.modelCache");
        return configured != null ? Path.of(configured)
                : Path.of(System.getProperty("java.io.tmpdir"), "curvature-models");
    }

    static boolean isUri(String location) {
        return URI_LIKE.matcher(location).matches();
    }

    private static Configuration hadoop() {
        SparkEnv env = SparkEnv.get();
        return SparkHadoopUtil.get().newConfiguration(env != null ? env.conf() : new SparkConf());
    }

    /**
     * The model directory at {@code location} as a local folder: itself for a plain path, else a copy of the
     * directory's files in {@link #cacheRoot()}/&lt;sha256 of the URI and each file's name, length
     * and modification time&gt; (so a changed model is copied anew), made once per machine and published by a rename:
     * a concurrent task sees the whole copy or none.
     */
    static synchronized Path localModel(String location) throws IOException {
        if (!isUri(location)) {
            return Path.of(location);
        }
        org.apache.hadoop.fs.Path directory = new org.apache.hadoop.fs.Path(URI.create(location));
        FileSystem fs = directory.getFileSystem(hadoop());
        FileStatus[] files = fs.listStatus(directory);
        StringBuilder identity = new StringBuilder(location);
        for (FileStatus file : files) {
            identity.append('\n').append(file.getPath().getName()).append(' ').append(file.getLen()).append(' ')
                    .append(file.getModificationTime());
        }
        Path cache = cacheRoot().resolve(sha256(identity.toString()));
        if (Files.isDirectory(cache)) {
            return cache;
        }
        Files.createDirectories(cache.getParent());
        Path partial = Files.createTempDirectory(cache.getParent(), cache.getFileName() + ".copying-");
        for (FileStatus file : files) {
            if (file.isFile()) {
                fs.copyToLocalFile(false, file.getPath(),
                        new org.apache.hadoop.fs.Path(partial.resolve(file.getPath().getName()).toUri()), true);
            }
        }
        try {
            Files.move(partial, cache, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException anotherJvmWasFirst) {
            if (!Files.isDirectory(cache)) {
                throw anotherJvmWasFirst;
            }
        }
        return cache;
    }

    /** Bytes [start, end) of the file at URI {@code location} ({@code end < 0}: to the end). */
    static byte[] read(String location, long start, long end) throws IOException {
        org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path(URI.create(location));
        FileSystem fs = file.getFileSystem(hadoop());
        long stop = end >= 0 ? end : fs.getFileStatus(file).getLen();
        byte[] bytes = new byte[Math.toIntExact(stop - start)];
        try (FSDataInputStream in = fs.open(file)) {
            in.readFully(start, bytes);
        }
        return bytes;
    }

    /** Whether the file at URI {@code location} exists, and its length (-1 when it does not). */
    static long length(String location) throws IOException {
        org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path(URI.create(location));
        FileSystem fs = file.getFileSystem(hadoop());
        return fs.isFile(file) ? fs.getFileStatus(file).getLen() : -1;
    }

    private static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }
}
