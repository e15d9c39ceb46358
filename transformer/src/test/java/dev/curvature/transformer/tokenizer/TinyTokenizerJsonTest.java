package dev.curvature.transformer.tokenizer;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A hand-written {@code tiny-tokenizer.json} (33 ids, 14 merges, three added tokens). Reference for every expected
 * id list: GPT-2's {@code encoder.py} algorithm worked by hand, written out in the comments.
 */
class TinyTokenizerJsonTest {
    static Path file;
    static BytePairTokenizer tiny;

    @BeforeAll
    static void load() throws IOException {
        file = Gpt2Files.resource("tiny-tokenizer.json");
        tiny = BytePairTokenizer.fromTokenizerJson(file);
    }

    @Test
    void encodesWordsByMergingPairsInRankOrder() {
        // "hello": h e l l o -(0 h e)-> he l l o -(1 l l)-> he ll o -(2 he ll)-> hell o -(3 hell o)-> hello=12
        // " world": Ġ w o r l d -(4)-> Ġw o r l d -(5)-> Ġw or l d -(6)-> Ġwor l d -(7)-> Ġwor ld
        //          -(8)-> Ġworld=17
        // "!": 8
        assertArrayEquals(new int[] {12, 17, 8}, tiny.encode("hello world!"));
    }

    @Test
    void mergesEveryOccurrenceOfTheBestPairLeftToRight() {
        // "aaaaa": rank 9 (a a) merges positions 0-1 and 2-3, the last a stays: aa aa a
        assertArrayEquals(new int[] {20, 20, 19}, tiny.encode("aaaaa"));
    }

    @Test
    void lowerRankWinsOverLeftmostPair() {
        // "ell": pairs (e l) rank 11 and (l l) rank 1; rank 1 first gives e ll, and (e ll) has no rule
        assertArrayEquals(new int[] {1, 10}, tiny.encode("ell"));
    }

    @Test
    void mergesAllOccurrencesBeforeUsingWhatTheyMade() {
        // "xyxy": rank 13 (x y) merges both occurrences -> xy xy; (xy xy) has no rule. encoder.py stops there.
        // (A one-merge-at-a-time queue, as in Hugging Face tokenizers, would apply rank 12 (xy x) after the first
        // merge and give xyx y = [29, 27].)
        assertArrayEquals(new int[] {28, 28}, tiny.encode("xyxy"));
    }

    @Test
    void encodesMultiByteCharactersThroughTheByteAlphabet() {
        // "é" is C3 A9, in the alphabet 'Ã' '©'; rank 10 merges them into 24. "\n" is 'Ċ' 21, its own piece.
        assertArrayEquals(new int[] {0, 24}, tiny.encode("hé"));
        assertArrayEquals(new int[] {12, 21}, tiny.encode("hello\n"));
    }

    @Test
    void splitsAddedTokensOutOfTheText() {
        assertArrayEquals(new int[] {12, 18, 12}, tiny.encode("hello<|endoftext|>hello"));
    }

    @Test
    void longestAddedTokenWinsWhereSeveralStart() {
        // "<|end" (30) is a prefix of "<|endoftext|>" (18): leftmost-longest matching
        assertArrayEquals(new int[] {18}, tiny.encode("<|endoftext|>"));
        assertArrayEquals(new int[] {30, 18}, tiny.encode("<|end<|endoftext|>"));
    }

    @Test
    void addedTokenIsUsedOnlyWhereItsBytesAreTheInputBytes() {
        // added token 31 is U+FFFD (EF BF BD). In a string it matches; in raw bytes, the invalid byte FF is read as
        // U+FFFD for splitting, but 31 would decode to EF BF BD, so FF stays text: its byte token 'ÿ' = 32.
        assertArrayEquals(new int[] {26, 31}, tiny.encode("x\uFFFD"));
        assertArrayEquals(new int[] {26, 31}, tiny.encode(new byte[] {'x', (byte) 0xEF, (byte) 0xBF, (byte) 0xBD}));
        assertArrayEquals(new int[] {26, 32}, tiny.encode(new byte[] {'x', (byte) 0xFF}));
    }

    @Test
    void encodingAByteWithoutATokenNamesTheByteAndTheFile() {
        // encodeOrdinary does not match added tokens, and '<' (0x3C) has no token in this vocabulary
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> tiny.encodeOrdinary("<|end"));
        assertTrue(e.getMessage().contains("0x3C") && e.getMessage().contains(file.toString()), e.getMessage());
    }

    @Test
    void decodeConcatenatesTheBytesOfEachToken() {
        assertArrayEquals("hello world!".getBytes(StandardCharsets.UTF_8), tiny.decode(new int[] {12, 17, 8}));
        assertArrayEquals(new byte[] {(byte) 0xC3, (byte) 0xA9}, tiny.decode(new int[] {24}));
        assertEquals("<|end<|endoftext|>\n", tiny.decodeToString(new int[] {30, 18, 21}));
        // half of "é": not UTF-8 as bytes, U+FFFD as a string
        assertArrayEquals(new byte[] {(byte) 0xC3}, tiny.decode(new int[] {22}));
        assertEquals("\uFFFD", tiny.decodeToString(new int[] {22}));
    }

    @Test
    void vocabularySizeIsHighestIdPlusOneIncludingAddedTokens() {
        // model.vocab has ids 0..29 and 32; the added tokens "<|end" and U+FFFD alone have ids 30 and 31
        assertEquals(33, tiny.vocabularySize());
        assertEquals(List.of(new AddedToken(18, "<|endoftext|>", true), new AddedToken(30, "<|end", false),
                new AddedToken(31, "\uFFFD", false)), tiny.addedTokens());
        assertEquals(30, tiny.addedTokenId("<|end").orElseThrow());
        assertTrue(tiny.addedTokenId("hello").isEmpty());
    }

    @Test
    void decodeOfAnUnknownIdNamesTheIdAndTheVocabularySize() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> tiny.decode(new int[] {12, 99}));
        assertTrue(e.getMessage().contains("unknown token id 99 at position 1")
                && e.getMessage().contains("size 33"), e.getMessage());
        IllegalArgumentException negative = assertThrows(IllegalArgumentException.class,
                () -> tiny.decode(new int[] {-1}));
        assertTrue(negative.getMessage().contains("unknown token id -1"), negative.getMessage());
    }
}
