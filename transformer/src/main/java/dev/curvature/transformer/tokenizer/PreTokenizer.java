package dev.curvature.transformer.tokenizer;

/**
 * Cuts text into pieces that BPE then encodes one at a time: GPT-2's fixed regex ({@link Gpt2PreTokenizer}) or a
 * tokenizer.json {@code Split} regex such as Llama 3's and OLMo-2's ({@link RegexSplitPreTokenizer}).
 */
interface PreTokenizer {
    /** Receives one piece as a char range {@code [start, end)} of the text. */
    @FunctionalInterface
    interface PieceSink {
        void accept(int start, int end);
    }

    /**
     * Splits {@code text[from, to)} into pieces, in order, which together cover the range exactly. The range is
     * treated as a whole text (lookaheads do not see past {@code to}), as when the segments between added tokens are
     * pre-tokenized separately.
     */
    void split(CharSequence text, int from, int to, PieceSink sink);
}
