package dev.curvature.transformer.tokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;

/**
 * A byte-level BPE tokenizer: GPT-2's, byte-exact with openai/gpt-2's {@code encoder.py} (tested against the npm
 * gpt-3-encoder port on GPT-2's vocabulary), and the Llama 3 / OLMo-2 kind of Hugging Face {@code tokenizer.json}
 * (cl100k_base's regex, {@code ignore_merges}, a BOS template), byte-exact with Hugging Face tokenizers (tested against
 * @huggingface/tokenizers on rank prefixes of both vocabularies).
 *
 * <p>Encoding: (1) added tokens such as {@code <|endoftext|>} or {@code <|eot_id|>} are cut out of the text and become
 * their ids; (2) the text between them is cut into pieces by the pre-tokenizer's regex ({@link Gpt2PreTokenizer} or
 * {@link RegexSplitPreTokenizer}); (3) each piece's UTF-8 bytes are merged by rank ({@link BytePairMerger});
 * (4) only when asked ({@link #encode(String, boolean)}), the post-processor's special tokens (Llama 3's BOS) are put
 * around the result. Decoding concatenates the bytes each id stands for.
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
    private final boolean[] specialById;
    private final Options options;

    /**
     * How a tokenizer file asks to pre-tokenize, merge and post-process.
     *
     * @param bosTokenId the id of the beginning-of-sequence token, or -1 where none is known
     * @param eosTokenId the id of the end-of-sequence token, or -1 where none is known
     */
    record Options(PreTokenizer preTokenizer, BytePairMerger.Order mergeOrder, boolean ignoreMerges,
                   SpecialTokenTemplate template, int bosTokenId, int eosTokenId) {
        /** GPT-2: its regex, encoder.py's merge order, no template, no BOS/EOS. */
        static final Options GPT2 = new Options(Gpt2PreTokenizer::split,
                BytePairMerger.Order.ALL_OCCURRENCES_OF_BEST_PAIR, false, SpecialTokenTemplate.NONE, -1, -1);
    }

    BytePairTokenizer(String source, BpeVocabulary vocabulary, MergeRanks merges, List<AddedToken> addedTokens) {
        this(source, vocabulary, merges, addedTokens, Options.GPT2);
    }

    BytePairTokenizer(String source, BpeVocabulary vocabulary, MergeRanks merges, List<AddedToken> addedTokens,
                      Options options) {
        this.source = source;
        this.bytesById = vocabulary.bytesById(addedTokens);
        this.merger = new BytePairMerger(vocabulary.byteTokenIds(), merges, source, options.mergeOrder(),
                options.ignoreMerges() ? vocabulary.wholeTokenIds() : null);
        this.addedTokens = List.copyOf(addedTokens);
        this.addedTokenMatcher = new AddedTokenMatcher(this.addedTokens);
        this.specialById = new boolean[bytesById.length];
        for (AddedToken t : this.addedTokens) {
            specialById[t.id()] |= t.special();
        }
        this.options = options;
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
     * Loads the tokenizer of a Hugging Face model directory: {@code tokenizer.json} (or {@code tokenizer.json.gz}),
     * and {@code tokenizer_config.json} where present, whose {@code bos_token} and {@code eos_token} name the BOS and
     * EOS tokens (without it they are read off the post-processor's template, where it has them).
     *
     * @throws MalformedTokenizerFileException naming the file and the field at fault
     * @throws java.nio.file.NoSuchFileException when the directory has no tokenizer.json
     */
    public static BytePairTokenizer fromModelDirectory(Path directory) throws IOException {
        Path json = directory.resolve("tokenizer.json");
        if (!java.nio.file.Files.exists(json) && java.nio.file.Files.exists(directory.resolve("tokenizer.json.gz"))) {
            json = directory.resolve("tokenizer.json.gz");
        }
        if (!java.nio.file.Files.exists(json)) {
            throw new java.nio.file.NoSuchFileException(json.toString(), null,
                    "a model directory needs tokenizer.json (or tokenizer.json.gz)");
        }
        Path config = directory.resolve("tokenizer_config.json");
        return HuggingFaceTokenizerJson.load(json, java.nio.file.Files.exists(config) ? config : null);
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

    /**
     * Token ids of {@code text}, with added tokens (e.g. {@code <|endoftext|>}) split out as their own ids, and no
     * special tokens added around it: Hugging Face's {@code encode(text, add_special_tokens=False)}.
     */
    public int[] encode(String text) {
        return encode(Utf8Text.encode(text), true);
    }

    /**
     * Token ids of {@code text} as {@link #encode(String)} gives them, with the post-processor's special tokens around
     * them when {@code addSpecialTokens} (Llama 3: {@code <|begin_of_text|>} first): Hugging Face's
     * {@code encode(text, add_special_tokens=addSpecialTokens)}. Files without a template add nothing.
     */
    public int[] encode(String text, boolean addSpecialTokens) {
        int[] ids = encode(text);
        return addSpecialTokens ? options.template().apply(ids) : ids;
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

    /**
     * The bytes the ids stand for, concatenated, leaving out added tokens marked special (BOS, EOS, padding, chat
     * markers) when {@code skipSpecialTokens}: Hugging Face's {@code decode(ids, skip_special_tokens)}.
     *
     * @throws IllegalArgumentException naming the id and the vocabulary size, for an id no token has
     */
    public byte[] decode(int[] ids, boolean skipSpecialTokens) {
        if (!skipSpecialTokens) {
            return decode(ids);
        }
        TokenIdBuffer kept = new TokenIdBuffer(ids.length);
        for (int i = 0; i < ids.length; i++) {
            tokenBytes(ids[i], i);
            if (!specialById[ids[i]]) {
                kept.add(ids[i]);
            }
        }
        return decode(kept.toArray());
    }

    /** {@link #decode(int[], boolean)} read as UTF-8 (invalid sequences become U+FFFD). */
    public String decodeToString(int[] ids, boolean skipSpecialTokens) {
        return new String(decode(ids, skipSpecialTokens), java.nio.charset.StandardCharsets.UTF_8);
    }

    /**
     * The beginning-of-sequence id: {@code bos_token} of tokenizer_config.json when loaded with
     * {@link #fromModelDirectory}, else the single special token the post-processor's template puts first, if any.
     */
    public OptionalInt bosTokenId() {
        return options.bosTokenId() < 0 ? OptionalInt.empty() : OptionalInt.of(options.bosTokenId());
    }

    /**
     * The end-of-sequence id: {@code eos_token} of tokenizer_config.json when loaded with {@link #fromModelDirectory},
     * else the single special token the post-processor's template puts last, if any.
     */
    public OptionalInt eosTokenId() {
        return options.eosTokenId() < 0 ? OptionalInt.empty() : OptionalInt.of(options.eosTokenId());
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
        options.preTokenizer().split(text.text(), from, to,
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
