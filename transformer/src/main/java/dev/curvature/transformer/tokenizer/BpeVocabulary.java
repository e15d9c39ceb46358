package dev.curvature.transformer.tokenizer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * A byte-level BPE vocabulary as read from a file (token string → id), checked, and turned into what encoding and
 * decoding need: the id of each single-byte token, merge rules on ids, and the bytes each id stands for.
 */
final class BpeVocabulary {
    private final Path file;
    private final Map<String, Integer> idByToken;
    private final Map<Integer, String> tokenById = new HashMap<>();

    /** @param file the file the vocabulary came from, named in errors */
    BpeVocabulary(Path file, Map<String, Integer> idByToken) throws MalformedTokenizerFileException {
        this.file = file;
        this.idByToken = Map.copyOf(idByToken);
        for (Map.Entry<String, Integer> e : idByToken.entrySet()) {
            String previous = tokenById.putIfAbsent(e.getValue(), e.getKey());
            if (previous != null) {
                throw new MalformedTokenizerFileException(file, "id " + e.getValue() + " is given to both '"
                        + previous + "' and '" + e.getKey() + "'");
            }
        }
    }

    /** The id of {@code token}, or -1. */
    int idOf(String token) {
        Integer id = idByToken.get(token);
        return id == null ? -1 : id;
    }

    /** The vocabulary's token for {@code id}, or null. */
    String tokenOf(int id) {
        return tokenById.get(id);
    }

    /** For each byte 0..255, the id of the token made of that byte alone, or -1 where the vocabulary has none. */
    int[] byteTokenIds() {
        int[] ids = new int[256];
        for (int b = 0; b < 256; b++) {
            ids[b] = idOf(String.valueOf(ByteLevelAlphabet.charOf(b)));
        }
        return ids;
    }

    /**
     * For {@code ignore_merges}: the id of every token by its bytes read as ISO-8859-1 (one char per byte), for the
     * tokens written in the byte-level alphabet.
     */
    Map<String, Integer> wholeTokenIds() {
        Map<String, Integer> ids = new HashMap<>();
        idByToken.forEach((token, id) -> {
            byte[] bytes = ByteLevelAlphabet.bytesOf(token);
            if (bytes != null) {
                ids.put(new String(bytes, StandardCharsets.ISO_8859_1), id);
            }
        });
        return ids;
    }

    /**
     * Merge rules on ids; rule {@code r} is {@code pairs.get(r)}. Both tokens and their concatenation must be in the
     * vocabulary (Hugging Face tokenizers refuses such files too; GPT-2 would fail later, at encode time).
     *
     * @param mergesFile the file the rules came from
     * @param where      describes rule {@code r} for errors, e.g. "line 14" or "model.merges[11]"
     */
    MergeRanks mergeRanks(List<String[]> pairs, Path mergesFile, IntFunction<String> where)
            throws MalformedTokenizerFileException {
        String vocabularyName = mergesFile.equals(file) ? "the vocabulary" : file.toString();
        int n = pairs.size();
        int[] left = new int[n];
        int[] right = new int[n];
        int[] merged = new int[n];
        for (int r = 0; r < n; r++) {
            String a = pairs.get(r)[0];
            String b = pairs.get(r)[1];
            left[r] = idOf(a);
            right[r] = idOf(b);
            merged[r] = idOf(a + b);
            String missing = left[r] < 0 ? "references token '" + a + "'"
                    : right[r] < 0 ? "references token '" + b + "'"
                    : merged[r] < 0 ? "makes token '" + a + b + "'"
                    : null;
            if (missing != null) {
                throw new MalformedTokenizerFileException(mergesFile, where.apply(r) + ": merge '" + a + " " + b
                        + "' " + missing + ", which is not in " + vocabularyName);
            }
        }
        return new MergeRanks(left, right, merged);
    }

    /**
     * The bytes each id decodes to, indexed by id (null where no token has the id). A token decodes through the
     * byte-level alphabet when all its characters are in it, and to its own UTF-8 otherwise: the rule of Hugging Face
     * tokenizers' ByteLevel decoder, which matters for added tokens such as {@code <｜begin▁of▁sentence｜>}.
     */
    byte[][] bytesById(List<AddedToken> addedTokens) {
        int size = 0;
        for (int id : idByToken.values()) {
            size = Math.max(size, id + 1);
        }
        for (AddedToken t : addedTokens) {
            size = Math.max(size, t.id() + 1);
        }
        byte[][] bytes = new byte[size][];
        idByToken.forEach((token, id) -> bytes[id] = decodeToken(token));
        for (AddedToken t : addedTokens) {
            bytes[t.id()] = decodeToken(t.content());
        }
        return bytes;
    }

    private static byte[] decodeToken(String token) {
        byte[] viaAlphabet = ByteLevelAlphabet.bytesOf(token);
        return viaAlphabet != null ? viaAlphabet : token.getBytes(StandardCharsets.UTF_8);
    }
}
