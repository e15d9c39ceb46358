package dev.curvature.transformer.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Byte-exact agreement with Hugging Face tokenizers on tokenizer.json files of the Llama 3 and OLMo-2 kind (cl100k
 * regex Split + ByteLevel, BPE, special added tokens, Llama 3's BOS template). Reference: {@code reference-ids.json}
 * in {@code llama3/} and {@code olmo2/}, written by {@code src/test/fixtures/tokenizer/generate-llama3-olmo2-fixtures.js}
 * with npm @huggingface/tokenizers 0.2.0 on the committed {@code tokenizer.json.gz} (vocabularies truncated to the 16,000
 * lowest ranks). Tolerance: none, every id of every text.
 */
class Cl100kReferenceFixtureTest {
    record Case(String name, String text, int[] ids, int[] idsWithSpecialTokens, String decoded) {
    }

    private static List<Case> cases(String kind) throws IOException {
        JsonNode fixture = new ObjectMapper().readTree(Gpt2Files.resource(kind + "/reference-ids.json").toFile());
        List<Case> cases = new ArrayList<>();
        for (JsonNode c : fixture.get("cases")) {
            cases.add(new Case(c.get("name").asText(), c.get("text").asText(), ints(c.get("ids")),
                    ints(c.get("idsWithSpecialTokens")), c.get("decoded").asText()));
        }
        assertTrue(cases.size() >= 250, kind + " fixture has " + cases.size() + " cases");
        return cases;
    }

    private static BytePairTokenizer tokenizer(String kind) throws IOException {
        return BytePairTokenizer.fromModelDirectory(directory(kind));
    }

    private static Path directory(String kind) {
        return Gpt2Files.resource(kind + "/tokenizer.json.gz").getParent();
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama3", "olmo2"})
    void encodeWithoutSpecialTokensReproducesReferenceIdsOfEveryText(String kind) throws IOException {
        BytePairTokenizer t = tokenizer(kind);
        assertEveryCase(cases(kind), Case::ids, c -> t.encode(c.text(), false));
        assertEveryCase(cases(kind), Case::ids, c -> t.encode(c.text()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama3", "olmo2"})
    void encodeWithSpecialTokensReproducesReferenceIdsOfEveryText(String kind) throws IOException {
        // Llama 3: <|begin_of_text|> first; OLMo-2 (ByteLevel post-processor): nothing added
        BytePairTokenizer t = tokenizer(kind);
        assertEveryCase(cases(kind), Case::idsWithSpecialTokens, c -> t.encode(c.text(), true));
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama3", "olmo2"})
    void encodeOfUtf8BytesReproducesReferenceIdsOfEveryText(String kind) throws IOException {
        BytePairTokenizer t = tokenizer(kind);
        assertEveryCase(cases(kind), Case::ids, c -> t.encode(whatwgUtf8(c.text())));
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama3", "olmo2"})
    void decodeGivesBackTheReferenceTextAndTheInputBytes(String kind) throws IOException {
        // reference: the reference's decode() of its ids, and the text's UTF-8 (lone surrogates as EF BF BD)
        BytePairTokenizer t = tokenizer(kind);
        List<String> failures = new ArrayList<>();
        for (Case c : cases(kind)) {
            if (!c.decoded().equals(t.decodeToString(c.ids()))
                    || !Arrays.equals(whatwgUtf8(c.text()), t.decode(c.ids()))) {
                failures.add(c.name());
            }
        }
        assertEquals(List.of(), failures, "texts whose decode differs");
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama3", "olmo2"})
    void decodeSkippingSpecialTokensGivesTheTextWithoutThem(String kind) throws IOException {
        // reference: the text with every special added token's content cut out (non-special ones such as
        // <|extra_id_3|> or |||PHONE_NUMBER||| stay), as UTF-8
        BytePairTokenizer t = tokenizer(kind);
        List<String> failures = new ArrayList<>();
        for (Case c : cases(kind)) {
            String expected = c.text();
            for (AddedToken token : t.addedTokens()) {
                if (token.special()) {
                    expected = expected.replace(token.content(), "");
                }
            }
            if (!Arrays.equals(whatwgUtf8(expected), t.decode(c.idsWithSpecialTokens(), true))) {
                failures.add(c.name());
            }
        }
        assertEquals(List.of(), failures, "texts whose decode differs");
    }

    @org.junit.jupiter.api.Test
    void llama3SpecialTokensHaveTheirRealIds() throws IOException {
        // reference: Llama 3's tokenizer.json and tokenizer_config.json (meta-llama/Meta-Llama-3-8B): 128,000 ordinary
        // ids, then 256 special ones; BOS <|begin_of_text|> 128000, EOS <|end_of_text|> 128001, <|eot_id|> 128009
        BytePairTokenizer llama = tokenizer("llama3");
        assertEquals(128256, llama.vocabularySize());
        assertEquals(128000, llama.bosTokenId().orElseThrow());
        assertEquals(128001, llama.eosTokenId().orElseThrow());
        assertEquals(128009, llama.addedTokenId("<|eot_id|>").orElseThrow());
        int[] hi = llama.encode("Hi");
        assertEquals(1, hi.length);
        assertArrayEquals(new int[] {128000, 128006, hi[0], 128007}, llama.encode("<|start_header_id|>Hi<|end_header_id|>", true));
        // without tokenizer_config.json, BOS is read off the template and EOS is unknown
        BytePairTokenizer bare = BytePairTokenizer.fromTokenizerJson(directory("llama3").resolve("tokenizer.json.gz"));
        assertEquals(128000, bare.bosTokenId().orElseThrow());
        assertTrue(bare.eosTokenId().isEmpty());
    }

    @org.junit.jupiter.api.Test
    void olmo2SpecialTokensHaveTheirRealIds() throws IOException {
        // reference: allenai's dolma2 tokenizer mapping: 100256..100277 added, BOS = EOS = <|endoftext|> 100257,
        // <|pad|> 100277; its post-processor adds nothing
        BytePairTokenizer olmo = tokenizer("olmo2");
        assertEquals(100278, olmo.vocabularySize());
        assertEquals(100257, olmo.bosTokenId().orElseThrow());
        assertEquals(100257, olmo.eosTokenId().orElseThrow());
        assertEquals(100277, olmo.addedTokenId("<|pad|>").orElseThrow());
        assertArrayEquals(olmo.encode("a<|pad|>"), olmo.encode("a<|pad|>", true));
        assertEquals(100277, olmo.encode("a<|pad|>")[1]);
        // encodeOrdinary matches no added token: "<|pad|>" is text
        assertTrue(olmo.encodeOrdinary("<|pad|>").length > 1);
    }

    private static void assertEveryCase(List<Case> cases, Function<Case, int[]> expected,
                                        Function<Case, int[]> actual) {
        List<String> failures = new ArrayList<>();
        for (Case c : cases) {
            int[] want = expected.apply(c);
            int[] got = actual.apply(c);
            if (!Arrays.equals(want, got)) {
                failures.add(c.name() + ": expected " + Arrays.toString(want) + " got " + Arrays.toString(got));
            }
        }
        if (!failures.isEmpty()) {
            fail(failures.size() + " of " + cases.size() + " texts differ from the reference:\n"
                    + String.join("\n", failures.subList(0, Math.min(10, failures.size()))));
        }
    }

    /** UTF-8 as WHATWG TextEncoder writes it: a lone surrogate becomes U+FFFD (EF BF BD). */
    static byte[] whatwgUtf8(String text) {
        try {
            ByteBuffer b = StandardCharsets.UTF_8.newEncoder()
                    .onMalformedInput(CodingErrorAction.REPLACE)
                    .replaceWith(new byte[] {(byte) 0xEF, (byte) 0xBF, (byte) 0xBD})
                    .encode(CharBuffer.wrap(text));
            return Arrays.copyOf(b.array(), b.limit());
        } catch (CharacterCodingException e) {
            throw new AssertionError(e);
        }
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).intValue();
        }
        return out;
    }
}
