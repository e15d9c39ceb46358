package dev.curvature.transformer.tokenizer;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A hand-written {@code tiny-split-tokenizer.json} of the Llama 3 kind (cl100k Split + ByteLevel, ignore_merges,
 * template {@code <s> $A </s>}). Reference for every expected id list: Hugging Face's algorithm worked by hand in the
 * comments, and the same ids from npm @huggingface/tokenizers 0.2.0 on this file (run once when the test was written).
 */
class TinySplitTokenizerJsonTest {
    static BytePairTokenizer tiny;

    @BeforeAll
    static void load() throws IOException {
        tiny = BytePairTokenizer.fromTokenizerJson(Gpt2Files.resource("tiny-split-tokenizer.json"));
    }

    @Test
    void ignoreMergesMapsAWholePieceInTheVocabularyToItsId() throws IOException {
        // "hel" is token 18 but no merge makes it: h e l -(0 h e)-> he l, and (he l) has no rule.
        assertArrayEquals(new int[] {18}, tiny.encode("hel"));
        Path withMerges = Files.createTempFile("tiny-split-merges", ".json");
        try {
            Files.writeString(withMerges, Files.readString(Gpt2Files.resource("tiny-split-tokenizer.json"))
                    .replace("\"ignore_merges\": true", "\"ignore_merges\": false"));
            assertArrayEquals(new int[] {9, 2}, BytePairTokenizer.fromTokenizerJson(withMerges).encode("hel"));
        } finally {
            Files.delete(withMerges);
        }
    }

    @Test
    void mergesOnePairAtATimeAsHuggingFaceDoes() {
        // "xyxy": rank 13 (x y) at 0 -> xy x y; now (xy x) rank 12 beats the second (x y) -> xyx y = [29, 27].
        // (GPT-2's encoder.py merges both (x y) first and gives [28, 28]: see TinyTokenizerJsonTest.)
        assertArrayEquals(new int[] {29, 27}, tiny.encode("xyxy"));
        // "aaaaa": (a a) leftmost first, repeatedly -> aa aa a
        assertArrayEquals(new int[] {20, 20, 19}, tiny.encode("aaaaa"));
    }

    @Test
    void digitsAreCutIntoRunsOfAtMostThree() {
        // \p{N}{1,3}: "1212121" -> "121" "212" "1" -> [12 1] [2 12] [1]
        assertArrayEquals(new int[] {32, 30, 31, 32, 30}, tiny.encode("1212121"));
    }

    @Test
    void templateAddsBosAndEosOnlyWhenAsked() {
        assertArrayEquals(new int[] {12, 17, 8}, tiny.encode("hello world!", false));
        assertArrayEquals(new int[] {33, 12, 17, 8, 34}, tiny.encode("hello world!", true));
        assertArrayEquals(new int[] {33, 34}, tiny.encode("", true));
        assertEquals(33, tiny.bosTokenId().orElseThrow());
        assertEquals(34, tiny.eosTokenId().orElseThrow());
    }

    @Test
    void addedTokensSpecialOrNotAreSplitOutOfTheText() {
        // <s> and </s> are special, <sep> is not (and is normalized: without a normalizer that changes nothing)
        assertArrayEquals(new int[] {33, 12, 34}, tiny.encode("<s>hello</s>"));
        assertArrayEquals(new int[] {33, 33, 12, 34, 34}, tiny.encode("<s>hello</s>", true));
        assertArrayEquals(new int[] {26, 35, 27}, tiny.encode("x<sep>y"));
    }

    @Test
    void decodeSkipsOnlySpecialTokensWhenAsked() {
        int[] ids = {33, 12, 35, 17, 34};
        assertEquals("<s>hello<sep> world</s>", tiny.decodeToString(ids));
        assertEquals("<s>hello<sep> world</s>", tiny.decodeToString(ids, false));
        assertEquals("hello<sep> world", tiny.decodeToString(ids, true));
    }

    @Test
    void modelDirectoryConfigNamesBosAndEos(@TempDir Path dir) throws IOException {
        // tokenizer_config.json overrides what the template suggests; an object with "content" is accepted too
        Files.copy(Gpt2Files.resource("tiny-split-tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer_config.json"),
                "{\"bos_token\": {\"content\": \"<sep>\"}, \"eos_token\": \"hello\"}");
        BytePairTokenizer t = BytePairTokenizer.fromModelDirectory(dir);
        assertEquals(35, t.bosTokenId().orElseThrow());
        assertEquals(12, t.eosTokenId().orElseThrow());
        assertArrayEquals(new int[] {33, 12, 34}, t.encode("hello", true)); // the template itself is unchanged
    }
}
