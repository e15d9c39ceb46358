package dev.curvature.cli;

import dev.curvature.transformer.eval.AbilityEval;
import dev.curvature.transformer.eval.Perplexity;
import dev.curvature.transformer.eval.RecitationEval;
import dev.curvature.transformer.eval.TaskEval;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The text table and JSON of {@link AbilityEval} results: one row per model, task accuracies, perplexity, recitation. */
final class EvalReport {
    private EvalReport() {
    }

    /**
     * Columns: each task's accuracy (correct/n) and mean teacher-forced accuracy over its answers, perplexity (exp of the mean loss; mean over batches of exp(batch
     * loss)), recitation strict and loose; with more than one row, a Δ row of the last against the first.
     */
    static String table(List<String> names, List<AbilityEval.Result> results) {
        Set<String> tasks = new LinkedHashSet<>();
        for (AbilityEval.Result r : results) {
            if (r.tasks() != null) {
                tasks.addAll(r.tasks().byTask().keySet());
            }
        }
        List<String> header = new ArrayList<>(List.of("model"));
        tasks.forEach(header::add);
        header.addAll(List.of("ppl", "ppl (batch mean)", "recite strict", "recite loose"));
        List<List<String>> rows = new ArrayList<>();
        for (int m = 0; m < results.size(); m++) {
            AbilityEval.Result r = results.get(m);
            List<String> row = new ArrayList<>(List.of(names.get(m)));
            for (String t : tasks) {
                TaskEval.Summary s = r.tasks() == null ? null : r.tasks().byTask().get(t);
                row.add(s == null ? "–" : String.format("%.3f (%d/%d) TF %.3f", s.accuracy(), s.correct(),
                        s.samples(), s.teacherForcedAccuracy()));
            }
            Perplexity p = r.perplexity();
            row.add(p == null ? "–" : String.format("%.3f", p.perplexity()));
            row.add(p == null ? "–" : String.format("%.3f", p.meanOfBatchPerplexities()));
            RecitationEval.Summary c = r.recitation() == null ? null : r.recitation().overall();
            row.add(c == null ? "–" : String.format("%.3f (%d/%d)", c.strict(), Math.round(c.strict() * c.samples()),
                    c.samples()));
            row.add(c == null ? "–" : String.format("%.3f", c.loose()));
            rows.add(row);
        }
        if (results.size() > 1) {
            AbilityEval.Result a = results.get(0);
            AbilityEval.Result b = results.get(results.size() - 1);
            List<String> row = new ArrayList<>(List.of("Δ (last − first)"));
            for (String t : tasks) {
                TaskEval.Summary x = a.tasks() == null ? null : a.tasks().byTask().get(t);
                TaskEval.Summary y = b.tasks() == null ? null : b.tasks().byTask().get(t);
                row.add(x == null || y == null ? "–" : String.format("%+.3f TF %+.3f", y.accuracy() - x.accuracy(),
                        y.teacherForcedAccuracy() - x.teacherForcedAccuracy()));
            }
            if (a.perplexity() != null && b.perplexity() != null) {
                row.add(String.format("%+.2f %%", 100 * (b.perplexity().perplexity() / a.perplexity().perplexity() - 1)));
                row.add(String.format("%+.2f %%", 100 * (b.perplexity().meanOfBatchPerplexities()
                        / a.perplexity().meanOfBatchPerplexities() - 1)));
            } else {
                row.addAll(List.of("–", "–"));
            }
            if (a.recitation() != null && b.recitation() != null) {
                row.add(String.format("%+.3f", b.recitation().overall().strict() - a.recitation().overall().strict()));
                row.add(String.format("%+.3f", b.recitation().overall().loose() - a.recitation().overall().loose()));
            } else {
                row.addAll(List.of("–", "–"));
            }
            rows.add(row);
        }
        return render(header, rows);
    }

    /** The first {@code limit} wrong answers of each task set, per model: prompt's id, answer, what was written. */
    static String wrongAnswers(List<String> names, List<AbilityEval.Result> results, int limit) {
        StringBuilder out = new StringBuilder();
        for (int m = 0; m < results.size(); m++) {
            if (results.get(m).tasks() == null) {
                continue;
            }
            Map<String, Integer> shown = new LinkedHashMap<>();
            out.append(String.format("%nwrong answers of %s:%n", names.get(m)));
            for (TaskEval.Outcome o : results.get(m).tasks().outcomes()) {
                if (!o.correct() && shown.merge(o.task(), 1, Integer::sum) <= limit) {
                    out.append(String.format("  %-22s answer %-14s wrote %s%n", o.id(), quote(o.answer()),
                            quote(o.generated())));
                }
            }
        }
        return out.toString();
    }

    private static String quote(String s) {
        return "\"" + s.replace("\n", "\\n") + "\"";
    }

    static Map<String, Object> json(String model, AbilityEval.Result r) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("model", model);
        if (r.tasks() != null) {
            Map<String, Object> tasks = new LinkedHashMap<>();
            r.tasks().byTask().forEach((name, s) -> tasks.put(name, Map.of("samples", s.samples(),
                    "correct", s.correct(), "accuracy", s.accuracy(),
                    "teacherForcedAccuracy", s.teacherForcedAccuracy())));
            out.put("tasks", tasks);
            out.put("taskOutcomes", r.tasks().outcomes());
        }
        if (r.perplexity() != null) {
            out.put("perplexity", r.perplexity());
        }
        if (r.recitation() != null) {
            out.put("recitation", r.recitation().overall());
            out.put("recitationBySource", r.recitation().bySource());
        }
        return out;
    }

    /** A plain monospaced table with a rule under the header. */
    static String render(List<String> header, List<List<String>> rows) {
        int[] width = new int[header.size()];
        for (int c = 0; c < header.size(); c++) {
            width[c] = header.get(c).length();
            for (List<String> row : rows) {
                width[c] = Math.max(width[c], row.get(c).length());
            }
        }
        StringBuilder out = new StringBuilder();
        appendRow(out, header, width);
        for (int c = 0; c < width.length; c++) {
            out.append("-".repeat(width[c])).append(c == width.length - 1 ? "\n" : "  ");
        }
        for (List<String> row : rows) {
            appendRow(out, row, width);
        }
        return out.toString();
    }

    private static void appendRow(StringBuilder out, List<String> row, int[] width) {
        for (int c = 0; c < row.size(); c++) {
            String cell = row.get(c);
            out.append(c == 0 ? String.format("%-" + width[c] + "s", cell) : String.format("%" + width[c] + "s", cell));
            out.append(c == row.size() - 1 ? "\n" : "  ");
        }
    }
}
