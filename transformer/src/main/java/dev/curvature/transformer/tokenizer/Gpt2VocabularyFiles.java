package dev.curvature.transformer.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * GPT-2's original tokenizer files: {@code encoder.json} (a JSON object, token → id; also shipped as
 * {@code vocab.json}) and {@code vocab.bpe} (also {@code merges.txt}: a {@code #version} line, then one merge
 * "left right" per line, highest priority first). Either may be gzip-compressed ({@code .gz}).
 *
 * <p>The files list no special tokens; {@code <|endoftext|>} is an ordinary vocabulary entry (50256). It is made an
 * added, special token here, as Hugging Face's GPT-2 tokenizers do, so {@link BytePairTokenizer#encode(String)}
 * splits it out; {@link BytePairTokenizer#encodeOrdinary(String)} encodes it as text, as openai/gpt-2 does.
 */
final class Gpt2VocabularyFiles {
    static final String END_OF_TEXT = "<|endoftext|>";

    private Gpt2VocabularyFiles() {
    }

    static BytePairTokenizer load(Path encoderJson, Path vocabBpe) throws IOException {
        BpeVocabulary vocabulary = new BpeVocabulary(encoderJson, readEncoder(encoderJson));
        List<Integer> lineNumbers = new ArrayList<>();
        List<String[]> merges = readMerges(vocabBpe, lineNumbers);
        MergeRanks ranks = vocabulary.mergeRanks(merges, vocabBpe, r -> "line " + lineNumbers.get(r));
        int endOfText = vocabulary.idOf(END_OF_TEXT);
        List<AddedToken> added = endOfText < 0 ? List.of() : List.of(new AddedToken(endOfText, END_OF_TEXT, true));
        return new BytePairTokenizer(encoderJson + " + " + vocabBpe, vocabulary, ranks, added);
    }

    private static Map<String, Integer> readEncoder(Path file) throws IOException {
        JsonNode root = TokenizerFileReader.readJson(file);
        if (!root.isObject()) {
            throw new MalformedTokenizerFileException(file, "expected a JSON object mapping tokens to ids, found "
                    + root.getNodeType());
        }
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            vocab.put(e.getKey(), JsonFields.tokenId(file, e.getValue(), "token '" + e.getKey() + "'"));
        }
        return vocab;
    }

    /** Merge rules in file order; {@code lineNumbers} receives each rule's 1-based line. */
    private static List<String[]> readMerges(Path file, List<Integer> lineNumbers) throws IOException {
        String[] lines = TokenizerFileReader.readUtf8(file).split("\n", -1);
        int end = lines.length;
        while (end > 0 && lines[end - 1].strip().isEmpty()) {
            end--;
        }
        List<String[]> merges = new ArrayList<>();
        for (int i = 0; i < end; i++) {
            String line = lines[i].endsWith("\r") ? lines[i].substring(0, lines[i].length() - 1) : lines[i];
            if (line.startsWith("#version")) {
                continue;
            }
            String[] parts = line.split(" ", -1);
            if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty()) {
                throw new MalformedTokenizerFileException(file, "line " + (i + 1)
                        + ": expected a merge of two tokens separated by one space, found '" + line + "'");
            }
            merges.add(parts);
            lineNumbers.add(i + 1);
        }
        return merges;
    }
}
