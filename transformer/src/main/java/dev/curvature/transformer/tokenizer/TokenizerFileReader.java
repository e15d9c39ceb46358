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

/** Reads tokenizer files, gunzipping those whose name ends in {@code .gz}; syntax errors name the file. */
final class TokenizerFileReader {
    private static final JsonMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
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
        InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
        return file.getFileName().toString().endsWith(".gz") ? new GZIPInputStream(in, 1 << 16) : in;
    }
}
