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
 * A Hugging Face {@code tokenizer.json} (optionally {@code .gz}) for a byte-level BPE: {@code model} of type BPE with
 * {@code vocab} and {@code merges} (each merge either a string "left right" or a pair ["left", "right"]), optionally
 * {@code ignore_merges}; {@code added_tokens}; a byte-level pre-tokenizer of one of two kinds; an optional
 * post-processor and a ByteLevel decoder (if any).
 *
 * <p>Pre-tokenizers:
 * <ul>
 *   <li>GPT-2's: {@code {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}}. Merges follow openai/gpt-2's
 *       {@code encoder.py} order ({@link BytePairMerger.Order#ALL_OCCURRENCES_OF_BEST_PAIR}), as before.</li>
 *   <li>Llama 3's and OLMo-2's: {@code {"type": "Sequence", "pretokenizers": [Split, ByteLevel]}} with a Split of
 *       behaviour Isolated, {@code invert: false}, and a ByteLevel with {@code use_regex: false}. Merges follow Hugging
 *       Face tokenizers' order ({@link BytePairMerger.Order#ONE_PAIR_AT_A_TIME}), the reference for these files.</li>
 * </ul>
 *
 * <p>Post-processors: none, ByteLevel (ids unchanged), TemplateProcessing (its {@code single} template: special tokens
 * before and after {@code $A}; the {@code pair} template is not used), or a Sequence of those.
 *
 * <p>Options this tokenizer does not implement are refused with an error naming the file and the field, rather than
 * ignored: a normalizer, any other pre-tokenizer or post-processor, {@code add_prefix_space}, BPE dropout, subword
 * prefixes/suffixes, {@code byte_fallback}, and added tokens with {@code lstrip}, {@code rstrip} or
 * {@code single_word} (neither GPT-2, Llama 3 nor OLMo-2 uses them). {@code normalized} is accepted and has no effect:
 * without a normalizer the normalized and the original text are the same.
 */
final class HuggingFaceTokenizerJson {
    private HuggingFaceTokenizerJson() {
    }

    static BytePairTokenizer load(Path file) throws IOException {
        return load(file, null);
    }

    /**
     * @param config a tokenizer_config.json whose {@code bos_token} / {@code eos_token} override what the template
     *               suggests, or null
     */
    static BytePairTokenizer load(Path file, Path config) throws IOException {
        JsonNode root = TokenizerFileReader.readJson(file);
        if (!root.isObject()) {
            throw new MalformedTokenizerFileException(file, "expected a JSON object at the top level");
        }
        requireAbsent(file, root.get("normalizer"), "normalizer");
        PreTokenizer preTokenizer = readPreTokenizer(file, root.get("pre_tokenizer"));
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
        boolean ignoreMerges = JsonFields.flag(file, model.get("ignore_merges"), false, "model.ignore_merges");

        BpeVocabulary vocabulary = new BpeVocabulary(file, readVocab(file, model.get("vocab")));
        MergeRanks ranks = vocabulary.mergeRanks(readMerges(file, model.get("merges")), file,
                r -> "model.merges[" + r + "]");
        List<AddedToken> added = readAddedTokens(file, root.get("added_tokens"), vocabulary);
        SpecialTokenTemplate template = readPostProcessor(file, root.get("post_processor"), vocabulary, added);
        BytePairMerger.Order order = preTokenizer instanceof RegexSplitPreTokenizer
                ? BytePairMerger.Order.ONE_PAIR_AT_A_TIME : BytePairMerger.Order.ALL_OCCURRENCES_OF_BEST_PAIR;
        int bos = template.before().length == 1 ? template.before()[0] : -1;
        int eos = template.after().length == 1 ? template.after()[0] : -1;
        if (config != null) {
            int[] configured = bosEosFromConfig(config, vocabulary, added, file);
            bos = configured[0] >= 0 ? configured[0] : bos;
            eos = configured[1] >= 0 ? configured[1] : eos;
        }
        return new BytePairTokenizer(file.toString(), vocabulary, ranks, added,
                new BytePairTokenizer.Options(preTokenizer, order, ignoreMerges, template, bos, eos));
    }

    /**
     * The ids of {@code bos_token} and {@code eos_token} in a tokenizer_config.json, -1 for one that is absent or null.
     * Each is a token's content, or an object whose {@code content} it is, and must be an added token or a
     * {@code model.vocab} entry of {@code tokenizerJson}.
     */
    private static int[] bosEosFromConfig(Path config, BpeVocabulary vocabulary, List<AddedToken> added,
                                          Path tokenizerJson) throws IOException {
        JsonNode root = TokenizerFileReader.readJson(config);
        if (!root.isObject()) {
            throw new MalformedTokenizerFileException(config, "expected a JSON object at the top level");
        }
        int[] ids = new int[2];
        String[] fields = {"bos_token", "eos_token"};
        for (int k = 0; k < 2; k++) {
            JsonNode value = root.get(fields[k]);
            if (value == null || value.isNull()) {
                ids[k] = -1;
                continue;
            }
            String content = value.isObject()
                    ? JsonFields.text(config, value.get("content"), fields[k] + ".content")
                    : JsonFields.text(config, value, fields[k]);
            ids[k] = added.stream().filter(t -> t.content().equals(content)).mapToInt(AddedToken::id)
                    .findFirst().orElse(vocabulary.idOf(content));
            if (ids[k] < 0) {
                throw new MalformedTokenizerFileException(config, fields[k] + " is '" + content
                        + "', which is not a token of " + tokenizerJson);
            }
        }
        return ids;
    }

    private static PreTokenizer readPreTokenizer(Path file, JsonNode pre) throws MalformedTokenizerFileException {
        String type = pre == null || !pre.isObject() ? null : pre.path("type").asText(null);
        if ("ByteLevel".equals(type)) {
            checkByteLevel(file, pre, "pre_tokenizer", true);
            return Gpt2PreTokenizer::split;
        }
        if (!"Sequence".equals(type)) {
            throw new MalformedTokenizerFileException(file, "pre_tokenizer: only {\"type\": \"ByteLevel\"} (GPT-2's"
                    + " regex and byte alphabet) or a Sequence of a Split and a ByteLevel (Llama 3, OLMo-2) is"
                    + " supported, found " + JsonFields.describe(pre));
        }
        JsonNode steps = pre.get("pretokenizers");
        if (steps == null || !steps.isArray() || steps.size() != 2) {
            throw new MalformedTokenizerFileException(file, "pre_tokenizer.pretokenizers: expected [Split, ByteLevel],"
                    + " found " + JsonFields.describe(steps));
        }
        JsonNode split = steps.get(0);
        JsonNode byteLevel = steps.get(1);
        if (!"Split".equals(split.path("type").asText(null))) {
            throw new MalformedTokenizerFileException(file, "pre_tokenizer.pretokenizers[0]: expected a Split, found "
                    + JsonFields.describe(split));
        }
        if (!"ByteLevel".equals(byteLevel.path("type").asText(null))) {
            throw new MalformedTokenizerFileException(file, "pre_tokenizer.pretokenizers[1]: expected a ByteLevel,"
                    + " found " + JsonFields.describe(byteLevel));
        }
        checkByteLevel(file, byteLevel, "pre_tokenizer.pretokenizers[1]", false);
        return readSplit(file, split, "pre_tokenizer.pretokenizers[0]");
    }

    private static RegexSplitPreTokenizer readSplit(Path file, JsonNode split, String where)
            throws MalformedTokenizerFileException {
        String behavior = JsonFields.text(file, split.get("behavior"), where + ".behavior");
        if (!behavior.equals("Isolated")) {
            throw new MalformedTokenizerFileException(file, where + ".behavior is \"" + behavior
                    + "\"; only \"Isolated\" is supported");
        }
        if (JsonFields.flag(file, split.get("invert"), false, where + ".invert")) {
            throw new MalformedTokenizerFileException(file, where + ".invert is true; only false is supported");
        }
        JsonNode pattern = split.get("pattern");
        JsonNode regex = pattern == null ? null : pattern.get("Regex");
        JsonNode literal = pattern == null ? null : pattern.get("String");
        try {
            if (regex != null) {
                return RegexSplitPreTokenizer.ofRegex(JsonFields.text(file, regex, where + ".pattern.Regex"));
            }
            if (literal != null) {
                return RegexSplitPreTokenizer.ofLiteral(JsonFields.text(file, literal, where + ".pattern.String"));
            }
        } catch (IllegalArgumentException e) {
            throw new MalformedTokenizerFileException(file, where + ".pattern" + (regex != null ? ".Regex" : ".String")
                    + ": " + e.getMessage(), e);
        }
        throw new MalformedTokenizerFileException(file, where + ".pattern: expected {\"Regex\": ...} or"
                + " {\"String\": ...}, found " + JsonFields.describe(pattern));
    }

    /** A ByteLevel pre-tokenizer step: no prefix space; GPT-2's regex on ({@code useRegex}) or off. */
    private static void checkByteLevel(Path file, JsonNode byteLevel, String where, boolean useRegex)
            throws MalformedTokenizerFileException {
        // Hugging Face's defaults for absent fields: add_prefix_space true, use_regex true
        if (JsonFields.flag(file, byteLevel.get("add_prefix_space"), true, where + ".add_prefix_space")) {
            throw new MalformedTokenizerFileException(file, where + ".add_prefix_space is true (or absent, "
                    + "which means true); only false is supported");
        }
        boolean regex = JsonFields.flag(file, byteLevel.get("use_regex"), true, where + ".use_regex");
        if (regex != useRegex) {
            throw new MalformedTokenizerFileException(file, where + ".use_regex is " + regex + (useRegex
                    ? "; only GPT-2's regex split is supported for a ByteLevel pre-tokenizer on its own"
                    : "; after a Split only false (no second regex) is supported"));
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
        if (JsonFields.flag(file, model.get("byte_fallback"), false, "model.byte_fallback")) {
            throw new MalformedTokenizerFileException(file, "model.byte_fallback is true; not supported");
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

    private static SpecialTokenTemplate readPostProcessor(Path file, JsonNode post, BpeVocabulary vocabulary,
                                                          List<AddedToken> added)
            throws MalformedTokenizerFileException {
        if (post == null || post.isNull()) {
            return SpecialTokenTemplate.NONE;
        }
        String type = post.path("type").asText(null);
        if ("Sequence".equals(type)) {
            JsonNode processors = post.get("processors");
            if (processors == null || !processors.isArray()) {
                throw new MalformedTokenizerFileException(file, "post_processor.processors: expected an array, found "
                        + JsonFields.describe(processors));
            }
            SpecialTokenTemplate template = SpecialTokenTemplate.NONE;
            for (int i = 0; i < processors.size(); i++) {
                SpecialTokenTemplate t = readProcessor(file, processors.get(i), "post_processor.processors[" + i + "]",
                        vocabulary, added);
                if (t != SpecialTokenTemplate.NONE) {
                    if (template != SpecialTokenTemplate.NONE) {
                        throw new MalformedTokenizerFileException(file, "post_processor.processors[" + i
                                + "]: a second TemplateProcessing; only one is supported");
                    }
                    template = t;
                }
            }
            return template;
        }
        return readProcessor(file, post, "post_processor", vocabulary, added);
    }

    private static SpecialTokenTemplate readProcessor(Path file, JsonNode processor, String where,
                                                      BpeVocabulary vocabulary, List<AddedToken> added)
            throws MalformedTokenizerFileException {
        String type = processor == null || !processor.isObject() ? null : processor.path("type").asText(null);
        if ("ByteLevel".equals(type)) {
            return SpecialTokenTemplate.NONE; // adjusts offsets only
        }
        if (!"TemplateProcessing".equals(type)) {
            throw new MalformedTokenizerFileException(file, where + ": only ByteLevel and TemplateProcessing are"
                    + " supported, found " + JsonFields.describe(processor));
        }
        JsonNode specialTokens = processor.get("special_tokens");
        if (specialTokens != null && !specialTokens.isNull() && !specialTokens.isObject()) {
            throw new MalformedTokenizerFileException(file, where + ".special_tokens: expected an object, found "
                    + JsonFields.describe(specialTokens));
        }
        JsonNode single = processor.get("single");
        if (single == null || !single.isArray()) {
            throw new MalformedTokenizerFileException(file, where + ".single: expected an array, found "
                    + JsonFields.describe(single));
        }
        TokenIdBuffer before = new TokenIdBuffer(2);
        TokenIdBuffer after = new TokenIdBuffer(2);
        boolean sawSequence = false;
        for (int i = 0; i < single.size(); i++) {
            JsonNode item = single.get(i);
            String at = where + ".single[" + i + "]";
            if (item.has("Sequence")) {
                String id = JsonFields.text(file, item.get("Sequence").get("id"), at + ".Sequence.id");
                if (!id.equals("A") || sawSequence) {
                    throw new MalformedTokenizerFileException(file, at + ": the single template must hold sequence"
                            + " A exactly once, found " + JsonFields.describe(item));
                }
                sawSequence = true;
            } else if (item.has("SpecialToken")) {
                String name = JsonFields.text(file, item.get("SpecialToken").get("id"), at + ".SpecialToken.id");
                JsonNode entry = specialTokens == null ? null : specialTokens.get(name);
                if (entry == null) {
                    throw new MalformedTokenizerFileException(file, at + ": special token '" + name
                            + "' is not in " + where + ".special_tokens");
                }
                JsonNode ids = entry.get("ids");
                if (ids == null || !ids.isArray() || ids.isEmpty()) {
                    throw new MalformedTokenizerFileException(file, where + ".special_tokens['" + name
                            + "'].ids: expected a non-empty array of ids, found " + JsonFields.describe(ids));
                }
                for (int k = 0; k < ids.size(); k++) {
                    String idWhere = where + ".special_tokens['" + name + "'].ids[" + k + "]";
                    int id = JsonFields.tokenId(file, ids.get(k), idWhere);
                    if (vocabulary.tokenOf(id) == null && added.stream().noneMatch(t -> t.id() == id)) {
                        throw new MalformedTokenizerFileException(file, idWhere + " is " + id
                                + ", which is neither in model.vocab nor in added_tokens");
                    }
                    (sawSequence ? after : before).add(id);
                }
            } else {
                throw new MalformedTokenizerFileException(file, at + ": expected {\"SpecialToken\": ...} or"
                        + " {\"Sequence\": ...}, found " + JsonFields.describe(item));
            }
        }
        if (!sawSequence) {
            throw new MalformedTokenizerFileException(file, where + ".single: no {\"Sequence\": {\"id\": \"A\"}}");
        }
        return new SpecialTokenTemplate(before.toArray(), after.toArray());
    }

    private static void requireAbsent(Path file, JsonNode value, String field) throws MalformedTokenizerFileException {
        if (value != null && !value.isNull()) {
            throw new MalformedTokenizerFileException(file, field + " is " + JsonFields.describe(value)
                    + "; only null is supported");
        }
    }
}
