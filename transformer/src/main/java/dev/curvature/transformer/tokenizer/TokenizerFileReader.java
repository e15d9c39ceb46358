package dev.curvature.transformer.tokenizer;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reads tokenizer files, gunzipping those whose name ends in {@code .gz}; syntax errors name the file. A file must
 * be a regular file and neither it nor what it decompresses to may exceed {@link #MAX_BYTES} (Llama 3's
 * tokenizer.json is 9 MB): a gzip bomb is refused when the limit is reached, not after filling the heap.
 */
final class TokenizerFileReader {
    /** The most bytes read from a tokenizer file, after decompression. */
    static final long MAX_BYTES = 256L << 20;
    private static final JsonMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private TokenizerFileReader() {
    }

    static JsonNode readJson(Path file) throws IOException {
        try (InputStream in = open(file)) {
            JsonNode root = JSON.readTree(in);
            if (root == null || root.isMissingNode()) {
                throw new MalformedTokenizerFileException(file, "empty file, expected JSON");
            }
            return root;
        } catch (JacksonException e) {
            throw new MalformedTokenizerFileException(file, "invalid JSON: " + e.getOriginalMessage()
                    + (e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()
                    + ", column " + e.getLocation().getColumnNr()), e);
        } catch (ZipException | EOFException e) {
            throw new MalformedTokenizerFileException(file, "corrupt gzip data: " + e.getMessage(), e);
        }
    }

    static String readUtf8(Path file) throws IOException {
        try (InputStream in = open(file)) {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(in.readAllBytes()))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new MalformedTokenizerFileException(file, "not valid UTF-8", e);
        } catch (ZipException | EOFException e) {
            throw new MalformedTokenizerFileException(file, "corrupt gzip data: " + e.getMessage(), e);
        }
    }

    private static InputStream open(Path file) throws IOException {
        dev.curvature.transformer.data.InputFiles.requireRegular(file, MAX_BYTES);
        InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
        return file.getFileName().toString().endsWith(".gz")
                ? new Capped(file, new GZIPInputStream(in, 1 << 16)) : in;
    }

    /** Passes at most {@link #MAX_BYTES} through; one more is an error naming the file. */
    private static final class Capped extends java.io.FilterInputStream {
        private final Path file;
        private long remaining = MAX_BYTES;

        Capped(Path file, InputStream in) {
            super(in);
            this.file = file;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, (int) Math.min(len, remaining + 1));
            if (n > 0) {
                remaining -= n;
                if (remaining < 0) {
                    throw new MalformedTokenizerFileException(file, "decompresses to more than " + MAX_BYTES
                            + " bytes; a tokenizer file is at most that (a gzip bomb?)");
                }
            }
            return n;
        }
    }
}
