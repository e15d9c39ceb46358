package dev.curvature.transformer.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A Hugging Face {@code tokenizer.json} (optionally {@code .gz}) for a GPT-2-style byte-level BPE: {@code model} of
 * type BPE with {@code vocab} and {@code merges} (each merge either a string "left right" or a pair
 * ["left", "right"]), {@code added_tokens}, a ByteLevel pre-tokenizer and (if any) a ByteLevel decoder.
 *
 * <p>Options this tokenizer does not implement are refused with an error naming the option, rather than ignored:
 * a normalizer, any other pre-tokenizer, {@code add_prefix_space}, BPE dropout, subword prefixes/suffixes,
 * {@code ignore_merges}, {@code byte_fallback}, and added tokens with {@code lstrip}, {@code rstrip} or
 * {@code single_word}.
 * The post-processor (which adds BOS/EOS around a sequence in some models) is not applied: {@code encode} returns the
 * text's tokens only.
 */
final class HuggingFaceTokenizerJson {
    private HuggingFaceTokenizerJson() {
    }

    static BytePairTokenizer load(Path file) throws IOException {
        JsonNode root = TokenizerFileReader.readJson(file);
        if (!root.isObject()) {
            throw new MalformedTokenizerFileException(file, "expected a JSON object at the top level");
        }
        requireAbsent(file, root.get("normalizer"), "normalizer");
        checkPreTokenizer(file, root.get("pre_tokenizer"));
        checkDecoder(file, root.get("decoder"));

        JsonNode model = root.get("model");
        if (model == null || !model.isObject()) {
            throw new MalformedTokenizerFileException(file, "model: expected an object, found "
                    + JsonFields.describe(model));
        }
        String type = JsonFields.text(file, model.get("type"), "model.type");
        if (!type.equals("BPE")) {
            throw new MalformedTokenizerFileException(file, "model.type is \"" + type
                    + "\"; only \"BPE\" (byte-level) is supported");
        }
        checkModelOptions(file, model);

        BpeVocabulary vocabulary = new BpeVocabulary(file, readVocab(file, model.get("vocab")));
        MergeRanks ranks = vocabulary.mergeRanks(readMerges(file, model.get("merges")), file,
                r -> "model.merges[" + r + "]");
        List<AddedToken> added = readAddedTokens(file, root.get("added_tokens"), vocabulary);
        return new BytePairTokenizer(file.toString(), vocabulary, ranks, added);
    }

    private static void checkPreTokenizer(Path file, JsonNode pre) throws MalformedTokenizerFileException {
        String type = pre == null || !pre.isObject() ? null : pre.path("type").asText(null);
        if (!"ByteLevel".equals(type)) {
            throw new MalformedTokenizerFileException(file, "pre_tokenizer: only {\"type\": \"ByteLevel\"} (GPT-2's"
                    + " regex and byte alphabet) is supported, found " + JsonFields.describe(pre));
        }
        // Hugging Face's defaults for absent fields: add_prefix_space true, use_regex true
        if (JsonFields.flag(file, pre.get("add_prefix_space"), true, "pre_tokenizer.add_prefix_space")) {
            throw new MalformedTokenizerFileException(file, "pre_tokenizer.add_prefix_space is true (or absent, "
                    + "which means true); only false is supported");
        }
        if (!JsonFields.flag(file, pre.get("use_regex"), true, "pre_tokenizer.use_regex")) {
            throw new MalformedTokenizerFileException(file, "pre_tokenizer.use_regex is false; only GPT-2's regex "
                    + "split is supported");
        }
    }

    private static void checkDecoder(Path file, JsonNode decoder) throws MalformedTokenizerFileException {
        if (decoder == null || decoder.isNull()) {
            return;
        }
        if (!"ByteLevel".equals(decoder.path("type").asText(null))) {
            throw new MalformedTokenizerFileException(file, "decoder: only ByteLevel is supported, found "
                    + JsonFields.describe(decoder));
        }
    }

    private static void checkModelOptions(Path file, JsonNode model) throws MalformedTokenizerFileException {
        JsonNode dropout = model.get("dropout");
        if (dropout != null && !dropout.isNull() && !(dropout.isNumber() && dropout.doubleValue() == 0)) {
            throw new MalformedTokenizerFileException(file, "model.dropout is " + dropout
                    + "; BPE dropout is not supported");
        }
        for (String affix : List.of("continuing_subword_prefix", "end_of_word_suffix")) {
            JsonNode value = model.get(affix);
            if (value != null && !value.isNull() && !(value.isTextual() && value.textValue().isEmpty())) {
                throw new MalformedTokenizerFileException(file, "model." + affix + " is " + value
                        + "; only an empty one is supported");
            }
        }
        for (String option : List.of("ignore_merges", "byte_fallback")) {
            if (JsonFields.flag(file, model.get(option), false, "model." + option)) {
                throw new MalformedTokenizerFileException(file, "model." + option + " is true; not supported");
            }
        }
    }

    private static Map<String, Integer> readVocab(Path file, JsonNode vocab) throws MalformedTokenizerFileException {
        if (vocab == null || !vocab.isObject()) {
            throw new MalformedTokenizerFileException(file, "model.vocab: expected an object mapping tokens to ids,"
                    + " found " + JsonFields.describe(vocab));
        }
        Map<String, Integer> ids = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : vocab.properties()) {
            ids.put(e.getKey(), JsonFields.tokenId(file, e.getValue(), "model.vocab['" + e.getKey() + "']"));
        }
        return ids;
    }

    private static List<String[]> readMerges(Path file, JsonNode merges) throws MalformedTokenizerFileException {
        if (merges == null || !merges.isArray()) {
            throw new MalformedTokenizerFileException(file, "model.merges: expected an array, found "
                    + JsonFields.describe(merges));
        }
        List<String[]> pairs = new ArrayList<>(merges.size());
        for (int r = 0; r < merges.size(); r++) {
            JsonNode merge = merges.get(r);
            String[] pair;
            if (merge.isTextual()) {
                pair = merge.textValue().split(" ", -1); // Hugging Face splits on ' ' and wants exactly two parts
            } else if (merge.isArray() && merge.size() == 2 && merge.get(0).isTextual() && merge.get(1).isTextual()) {
                pair = new String[] {merge.get(0).textValue(), merge.get(1).textValue()};
            } else {
                pair = null;
            }
            if (pair == null || pair.length != 2) {
                throw new MalformedTokenizerFileException(file, "model.merges[" + r + "]: expected \"left right\" or"
                        + " [\"left\", \"right\"], found " + JsonFields.describe(merge));
            }
            pairs.add(pair);
        }
        return pairs;
    }

    private static List<AddedToken> readAddedTokens(Path file, JsonNode added, BpeVocabulary vocabulary)
            throws MalformedTokenizerFileException {
        if (added == null || added.isNull()) {
            return List.of();
        }
        if (!added.isArray()) {
            throw new MalformedTokenizerFileException(file, "added_tokens: expected an array, found "
                    + JsonFields.describe(added));
        }
        List<AddedToken> tokens = new ArrayList<>();
        Set<String> contents = new HashSet<>();
        for (int i = 0; i < added.size(); i++) {
            JsonNode t = added.get(i);
            String where = "added_tokens[" + i + "]";
            int id = JsonFields.tokenId(file, t.get("id"), where + ".id");
            String content = JsonFields.text(file, t.get("content"), where + ".content");
            if (content.isEmpty()) {
                throw new MalformedTokenizerFileException(file, where + ": empty content");
            }
            if (!contents.add(content)) {
                throw new MalformedTokenizerFileException(file, where + ": '" + content + "' is listed twice");
            }
            for (String option : List.of("lstrip", "rstrip", "single_word")) {
                if (JsonFields.flag(file, t.get(option), false, where + "." + option)) {
                    throw new MalformedTokenizerFileException(file, where + " ('" + content + "') has " + option
                            + " true; not supported");
                }
            }
            String inVocab = vocabulary.tokenOf(id);
            if (inVocab != null && !inVocab.equals(content)) {
                throw new MalformedTokenizerFileException(file, where + ": id " + id + " is '" + content
                        + "' here but '" + inVocab + "' in model.vocab");
            }
            tokens.add(new AddedToken(id, content, JsonFields.flag(file, t.get("special"), false, where + ".special")));
        }
        return tokens;
    }

    private static void requireAbsent(Path file, JsonNode value, String field) throws MalformedTokenizerFileException {
        if (value != null && !value.isNull()) {
            throw new MalformedTokenizerFileException(file, field + " is " + JsonFields.describe(value)
                    + "; only null is supported");
        }
    }
}
