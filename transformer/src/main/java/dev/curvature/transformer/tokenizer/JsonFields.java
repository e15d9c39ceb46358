package dev.curvature.transformer.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Path;

/** Typed reads of JSON values whose errors name the file and the value's path. */
final class JsonFields {
    private JsonFields() {
    }

    static int tokenId(Path file, JsonNode value, String what) throws MalformedTokenizerFileException {
        if (value == null || !value.isIntegralNumber() || !value.canConvertToInt() || value.intValue() < 0) {
            throw new MalformedTokenizerFileException(file, what + ": expected a non-negative integer id, found "
                    + describe(value));
        }
        return value.intValue();
    }

    static String text(Path file, JsonNode value, String what) throws MalformedTokenizerFileException {
        if (value == null || !value.isTextual()) {
            throw new MalformedTokenizerFileException(file, what + ": expected a string, found " + describe(value));
        }
        return value.textValue();
    }

    /** A boolean that may be absent or null, meaning {@code absent}. */
    static boolean flag(Path file, JsonNode value, boolean absent, String what)
            throws MalformedTokenizerFileException {
        if (value == null || value.isNull()) {
            return absent;
        }
        if (!value.isBoolean()) {
            throw new MalformedTokenizerFileException(file, what + ": expected true or false, found "
                    + describe(value));
        }
        return value.booleanValue();
    }

    static String describe(JsonNode value) {
        if (value == null || value.isMissingNode()) {
            return "nothing";
        }
        String json = value.toString();
        return json.length() > 60 ? json.substring(0, 57) + "..." : json;
    }
}
