package dev.curvature.transformer.workbench;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Synthetic task data mixed into the workbench's training text, with held-out eval sets (the paper's §4 question:
 * which abilities does the curvature edit cost?). Deterministic: the same {@link TaskOptions} give the same lines.
 *
 * <p>The sets, with their training lines and eval prompts ({@code e}, {@code v} are invented lowercase words such as
 * "zorbin", unique across the whole suite, so entities of different sets never meet):
 * <ul>
 * <li><b>closed-book</b>: factEntities entities × 2 relations. Training: "Q: where does e live? A: v." (and "Q: what
 *     is the pet of e called? A: v.") factCopies times each. Eval: the prompt "Q: where does e live? A:" alone,
 *     answer " v." — the fact must come from the weights.</li>
 * <li><b>open-book</b>: the same facts, stated in the prompt: "e lives in v. Q: where does e live? A:", answer
 *     " v.". Training teaches this form on openBookTrain lines of fresh entities.</li>
 * <li><b>open-book-unseen</b>: the open-book form on entities found nowhere in train.txt: reading only.</li>
 * <li><b>arithmetic</b>: "a+b=c." with a, b of 2 or 3 digits (digits drawn first, then the value uniformly), or of 2
 *     digits only. Eval: "a+b=", answer "c."; no eval pair occurs in training in either order, and training problems
 *     are distinct (each written sumCopies times).</li>
 * </ul>
 * Plain held-out text is the workbench's heldout.txt (perplexity), unchanged by the tasks.
 */
public final class TaskSuite {
    /** Task set names, in report order; eval/tasks/NAME.jsonl holds each. */
    public static final List<String> SETS = List.of("closed-book", "open-book", "open-book-unseen", "arithmetic");
    /** The terminator every answer ends with. */
    public static final String END = ".";

    private static final String CONSONANTS = "bdfgklmnprstvz";
    private static final String VOWELS = "aeiou";

    /** A relation between an entity and a value: how training states it and how a question asks it. */
    private enum Relation {
        LIVES("%s lives in %s.", "where does %s live?"),
        PET("%s has a pet called %s.", "what is the pet of %s called?");

        final String statement;
        final String question;

        Relation(String statement, String question) {
            this.statement = statement;
            this.question = question;
        }

        String statement(String entity, String value) {
            return String.format(statement, entity, value);
        }

        String questionPrompt(String entity) {
            return "Q: " + String.format(question, entity) + " A:";
        }
    }

    private final List<String> trainLines;
    private final Map<String, List<TaskSample>> evalSets;

    private TaskSuite(List<String> trainLines, Map<String, List<TaskSample>> evalSets) {
        this.trainLines = List.copyOf(trainLines);
        this.evalSets = evalSets;
    }

    /** The lines to insert into train.txt (each its own line, no '\n'), in generation order. */
    public List<String> trainLines() {
        return trainLines;
    }

    /** Eval sets by name, in {@link #SETS} order. */
    public Map<String, List<TaskSample>> evalSets() {
        return evalSets;
    }

    /** Characters of the training lines, each counted with its '\n'. */
    public long trainChars() {
        return trainLines.stream().mapToLong(s -> s.length() + 1L).sum();
    }

    public static TaskSuite generate(TaskOptions options) {
        SplittableRandom root = new SplittableRandom(options.seed());
        SplittableRandom nameRandom = root.split();
        SplittableRandom arithmeticRandom = root.split();
        Set<String> used = new HashSet<>();
        List<String> lines = new ArrayList<>();
        Map<String, List<TaskSample>> sets = new LinkedHashMap<>();
        Relation[] relations = Relation.values();

        List<TaskSample> closed = new ArrayList<>();
        List<TaskSample> open = new ArrayList<>();
        for (int e = 0; e < options.factEntities(); e++) {
            String entity = freshName(nameRandom, used);
            for (Relation r : relations) {
                String value = freshName(nameRandom, used);
                String prompt = r.questionPrompt(entity);
                String answer = " " + value + END;
                int index = closed.size();
                closed.add(new TaskSample(prompt, answer, "closed-book", String.format("closed-book-%03d", index)));
                open.add(new TaskSample(r.statement(entity, value) + " " + prompt, answer, "open-book",
                        String.format("open-book-%03d", index)));
                for (int c = 0; c < options.factCopies(); c++) {
                    lines.add(prompt + answer);
                }
            }
        }
        for (int i = 0; i < options.openBookTrain(); i++) {
            lines.add(openBook(relations[i % relations.length], nameRandom, used).text());
        }
        List<TaskSample> unseen = new ArrayList<>();
        for (int i = 0; i < options.openBookUnseen(); i++) {
            TaskSample s = openBook(relations[i % relations.length], nameRandom, used);
            unseen.add(new TaskSample(s.prompt(), s.answer(), "open-book-unseen",
                    String.format("open-book-unseen-%03d", i)));
        }

        Set<Long> heldPairs = new HashSet<>();
        List<TaskSample> arithmetic = new ArrayList<>();
        while (arithmetic.size() < options.arithmeticEval()) {
            int a = operand(arithmeticRandom, options.operandDigits());
            int b = operand(arithmeticRandom, options.operandDigits());
            if (heldPairs.add(unordered(a, b))) {
                arithmetic.add(new TaskSample(a + "+" + b + "=", (a + b) + END, "arithmetic",
                        String.format("arithmetic-%03d", arithmetic.size())));
            }
        }
        Set<Long> trainPairs = new HashSet<>();
        while (trainPairs.size() < options.arithmeticTrain()) {
            int a = operand(arithmeticRandom, options.operandDigits());
            int b = operand(arithmeticRandom, options.operandDigits());
            long ordered = (long) a * 1000 + b;
            if (!heldPairs.contains(unordered(a, b)) && trainPairs.add(ordered)) {
                for (int c = 0; c < options.sumCopies(); c++) {
                    lines.add(a + "+" + b + "=" + (a + b) + END);
                }
            }
        }

        sets.put("closed-book", List.copyOf(closed));
        sets.put("open-book", List.copyOf(open));
        sets.put("open-book-unseen", List.copyOf(unseen));
        sets.put("arithmetic", List.copyOf(arithmetic));
        return new TaskSuite(lines, java.util.Collections.unmodifiableMap(sets));
    }

    private static TaskSample openBook(Relation r, SplittableRandom random, Set<String> used) {
        String entity = freshName(random, used);
        String value = freshName(random, used);
        return new TaskSample(r.statement(entity, value) + " " + r.questionPrompt(entity), " " + value + END,
                "open-book", "");
    }

    /**
     * maxDigits 3: 10..99 or 100..999, the number of digits chosen first (so 2-digit operands are half the draws);
     * maxDigits 2: 10..99.
     */
    private static int operand(SplittableRandom random, int maxDigits) {
        return maxDigits == 2 || random.nextBoolean() ? 10 + random.nextInt(90) : 100 + random.nextInt(900);
    }

    private static long unordered(int a, int b) {
        return (long) Math.min(a, b) * 1000 + Math.max(a, b);
    }

    /** Consonant–vowel syllables (2 or 3) and a closing consonant, e.g. "zorbin"; never one already used. */
    private static String freshName(SplittableRandom random, Set<String> used) {
        while (true) {
            StringBuilder name = new StringBuilder();
            int syllables = 2 + random.nextInt(2);
            for (int s = 0; s < syllables; s++) {
                name.append(CONSONANTS.charAt(random.nextInt(CONSONANTS.length())));
                name.append(VOWELS.charAt(random.nextInt(VOWELS.length())));
            }
            name.append(CONSONANTS.charAt(random.nextInt(CONSONANTS.length())));
            if (used.add(name.toString())) {
                return name.toString();
            }
        }
    }

    /** JSONL of a task set: {"prompt", "answer", "task", "id"} per line, as {@link #read} reads it. */
    public static String toJsonl(List<TaskSample> samples) {
        StringBuilder out = new StringBuilder();
        for (TaskSample s : samples) {
            ObjectNode node = JsonlEvalSet.JSON.createObjectNode();
            node.put("prompt", s.prompt());
            node.put("answer", s.answer());
            node.put("task", s.task());
            node.put("id", s.id());
            out.append(node).append('\n');
        }
        return out.toString();
    }

    /** Reads a task set written by {@link #toJsonl}; blank lines skipped; a bad line is an IOException naming it. */
    public static List<TaskSample> read(Path jsonl) throws IOException {
        List<TaskSample> samples = JsonlEvalSet.read(jsonl, node -> new TaskSample(JsonlEvalSet.text(node, "prompt"),
                JsonlEvalSet.text(node, "answer"), JsonlEvalSet.text(node, "task"), JsonlEvalSet.text(node, "id")));
        if (samples.isEmpty()) {
            throw new IOException(jsonl + ": no task samples");
        }
        return samples;
    }
}
