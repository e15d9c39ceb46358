package dev.curvature.cli;

import dev.curvature.kfac.BandAnalysis;
import dev.curvature.kfac.EditSweep;
import dev.curvature.kfac.FactorStore;
import dev.curvature.transformer.eval.RecitationEval;
import dev.curvature.transformer.workbench.WorkbenchManifest;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/** The demo's results as a table, a JSON report and plots against the budget. */
final class DemoReport {
    private static final String[] SOURCES = {"canaries", "duplicates", "heldout"};

    private final Path model;
    private final WorkbenchManifest manifest;
    private final FactorStore.Description factors;
    private final int factorTokens;
    private final int evalTokens;
    private final long evalPositions;
    private final List<EditSweep.LayerSet> sets;
    private final List<EditSweep.Budget> budgets;
    private final DemoCommand.Evaluation baseline;
    private final List<EditSweep.Variant<DemoCommand.Evaluation>> variants;
    private final Map<String, BandAnalysis.Report> bands;
    private final Map<String, Double> seconds;

    DemoReport(Path model, WorkbenchManifest manifest, FactorStore.Description factors, int factorTokens,
               int evalTokens, long evalPositions, List<EditSweep.LayerSet> sets, List<EditSweep.Budget> budgets,
               DemoCommand.Evaluation baseline, List<EditSweep.Variant<DemoCommand.Evaluation>> variants,
               Map<String, BandAnalysis.Report> bands, Map<String, Double> seconds) {
        this.model = model;
        this.manifest = manifest;
        this.factors = factors;
        this.factorTokens = factorTokens;
        this.evalTokens = evalTokens;
        this.evalPositions = evalPositions;
        this.sets = sets;
        this.budgets = budgets;
        this.baseline = baseline;
        this.variants = variants;
        this.bands = bands;
        this.seconds = seconds;
    }

    /** Relative change of held-out perplexity (exp of the mean token loss) against the unedited model. */
    double perplexityRise(DemoCommand.Evaluation e) {
        return e.heldout().perplexity().perplexity() / baseline.heldout().perplexity().perplexity() - 1;
    }

    String table() {
        StringBuilder t = new StringBuilder();
        int k = baseline.heldout().k();
        t.append(String.format("K-FAC curvature edit of %s: factors from %,d clean held-in tokens (%s labels); "
                        + "perplexity and nDCG@%d on %,d held-out positions%n", model, factorTokens,
                factors.labels().toLowerCase(), k, evalPositions));
        t.append(String.format("recitation: greedy %d-token suffix after a %d-token prompt; strict = exact, loose = "
                        + "1 − Levenshtein/%d ≥ 0.75; TF = teacher-forced accuracy on the canary secrets; ppl = exp of "
                        + "the mean token loss (the paper's mean of batch perplexities is in report.json)%n",
                manifest.options().suffixChars(), manifest.options().promptChars(), manifest.options().suffixChars()));
        t.append(String.format("controls keep the K-FAC edit's fraction of each layer: SVD = best rank-r approximation "
                + "with r = fraction × min(p, q) (r(p+q−r) free parameters: more than K-FAC keeps, so the comparison "
                + "favours SVD); random = as many components, uniformly, in the same eigenbasis"
                + (variants.stream().anyMatch(v -> v.method() == EditSweep.Method.EKFAC) ? "; EK-FAC = as many "
                + "components of the same eigenbasis, those of largest corrected eigenvalue Λ_ij (second pass over "
                + "the factors' windows, per-window gradients)" : "") + "%n%n"));
        String header = String.format(setColumn() + " %-6s %-7s %6s | %-12s %5s | %-12s | %-12s | %7s %8s %7s%n",
                "layer set", "method", "budget", "kept", "canaries", "TF", "duplicates", "held-out", "ppl", "Δppl",
                "nDCG@" + k);
        t.append(header);
        t.append(String.format(setColumn() + " %-6s %-7s %6s | %-12s %5s | %-12s | %-12s | %7s %8s %7s%n", "", "", "", "",
                "strict/loose", "", "strict/loose", "strict/loose", "", "", ""));
        t.append("-".repeat(header.length() - 1)).append('\n');
        t.append(row("unedited", "-", "-", 1.0, baseline));
        String lastSet = null;
        for (var v : variants) {
            if (lastSet != null && !lastSet.equals(v.layerSet())) {
                t.append('\n');
            }
            lastSet = v.layerSet();
            t.append(row(v.layerSet(), label(v.method()), v.budget().toString(), v.keptFraction(), v.evaluation()));
        }
        t.append('\n').append(verdict());
        t.append('\n').append(bandTable());
        t.append(String.format("%ntime: %s%n", timings()));
        return t.toString();
    }

    private String row(String set, String method, String budget, double kept, DemoCommand.Evaluation e) {
        Map<String, RecitationEval.Summary> by = e.recitation().bySource();
        var ppl = e.heldout().perplexity();
        String rise = e == baseline ? "-" : String.format("%+.1f%%", 100 * perplexityRise(e));
        return String.format(setColumn() + " %-6s %-7s %5.1f%% | %-12s %5.3f | %-12s | %-12s | %7.3f %8s %7.3f%n", set,
                method,
                budget, 100 * kept, counts(by.get("canaries")), by.get("canaries").teacherForcedAccuracy(),
                counts(by.get("duplicates")), counts(by.get("heldout")), ppl.perplexity(), rise, e.heldout().ndcg());
    }

    /** "%-W s" for the layer-set column: at least 16 wide, as wide as the longest set name. */
    private String setColumn() {
        int width = 16;
        for (var v : variants) {
            width = Math.max(width, v.layerSet().length());
        }
        return "%-" + width + "s";
    }

    static String counts(RecitationEval.Summary s) {
        if (s == null) {
            return "-";
        }
        return Math.round(s.strict() * s.samples()) + "/" + Math.round(s.loose() * s.samples()) + " of "
                + s.samples();
    }

    private static String label(EditSweep.Method m) {
        return switch (m) {
            case KFAC -> "K-FAC";
            case SVD -> "SVD";
            case RANDOM -> "random";
            case EKFAC -> "EK-FAC";
        };
    }

    /**
     * The issue's two questions, answered from the rows: which K-FAC edits cut canary strict recitation by ≥ 80 %
     * (relative) at ≤ 2 % perplexity, and whether K-FAC costs less perplexity than SVD at the same kept fraction.
     */
    String verdict() {
        StringBuilder t = new StringBuilder();
        double before = baseline.recitation().bySource().get("canaries").strict();
        List<String> meeting = new ArrayList<>();
        int kfacCheaper = 0;
        int compared = 0;
        for (var v : variants) {
            if (v.method() != EditSweep.Method.KFAC) {
                continue;
            }
            double after = v.evaluation().recitation().bySource().get("canaries").strict();
            double rise = perplexityRise(v.evaluation());
            if (before > 0 && (before - after) / before >= 0.8 && rise <= 0.02) {
                meeting.add(String.format("%s %s (canaries strict %.0f%% → %.0f%%, ppl %+.1f%%)", v.layerSet(),
                        v.budget(), 100 * before, 100 * after, 100 * rise));
            }
            for (var w : variants) {
                if (w.method() == EditSweep.Method.SVD && w.layerSet().equals(v.layerSet())
                        && w.budget().equals(v.budget())) {
                    compared++;
                    kfacCheaper += rise < perplexityRise(w.evaluation()) ? 1 : 0;
                }
            }
        }
        t.append(String.format("K-FAC edits that cut canary strict recitation by ≥ 80 %% at ≤ 2 %% perplexity: %d of "
                + "%d%s%n", meeting.size(), variants.stream().filter(v -> v.method() == EditSweep.Method.KFAC).count(),
                meeting.isEmpty() ? "" : ": " + String.join("; ", meeting)));
        if (compared > 0) {
            t.append(String.format("K-FAC costs less perplexity than SVD at the same kept fraction in %d of %d "
                    + "(layer set, budget) pairs%n", kfacCheaper, compared));
        }
        return t.toString();
    }

    /** Band activation ratios (data / clean) of each data set, both definitions, per layer and band. */
    String bandTable() {
        if (bands.isEmpty()) {
            return "";
        }
        StringBuilder t = new StringBuilder();
        t.append("band activation (paper §4): ratio of mean activation on the set to clean held-out text; (a) = "
                + "‖W_band x‖, (b) = RMS |v_jᵀx| over the band's pairs; bands by count of λ_iμ_j\n");
        BandAnalysis.Report first = bands.values().iterator().next();
        int width = 16;
        for (var layer : first.layers()) {
            for (var ratio : layer.ratios()) {
                width = Math.max(width, ratio.layer().length());
            }
        }
        String layerColumn = "%-" + width + "s %-11s";
        t.append(String.format(layerColumn, "", ""));
        bands.keySet().forEach(set -> t.append(String.format(" | %-15s", set)));
        t.append('\n').append(String.format(layerColumn, "layer", "band"));
        bands.keySet().forEach(set -> t.append(String.format(" | %7s %7s", "(a)", "(b)")));
        t.append('\n');
        for (int l = 0; l < first.layers().size(); l++) {
            var ratios = first.layers().get(l).ratios();
            for (int b = 0; b < ratios.size(); b++) {
                t.append(String.format(layerColumn, ratios.get(b).layer(), ratios.get(b).label()));
                for (BandAnalysis.Report report : bands.values()) {
                    var r = report.layers().get(l).ratios().get(b);
                    t.append(String.format(" | %7.2f %7.2f", r.outputNormRatio(), r.projectionRmsRatio()));
                }
                t.append('\n');
            }
        }
        return t.toString();
    }

    private String timings() {
        List<String> parts = new ArrayList<>();
        seconds.forEach((phase, s) -> parts.add(String.format("%s %.1f s", phase, s)));
        return String.join(", ", parts);
    }

    /** The report as a JSON-ready tree (maps and records). */
    Map<String, Object> json() {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("format", "curvature-demo-report/1");
        root.put("model", model.toString());
        Map<String, Object> workbench = new LinkedHashMap<>();
        workbench.put("manifest", manifest.file().toString());
        workbench.put("seed", manifest.options().seed());
        workbench.put("source", manifest.sourceDescription());
        workbench.put("sourceSha256", manifest.sourceSha256());
        root.put("workbench", workbench);
        root.put("factors", factors);
        root.put("factorTokens", factorTokens);
        root.put("evalTokens", evalTokens);
        root.put("evalPositions", evalPositions);
        root.put("layerSets", sets);
        root.put("budgets", budgets);
        root.put("baseline", evaluation(baseline));
        List<Map<String, Object>> rows = new ArrayList<>();
        for (var v : variants) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("method", v.method());
            row.put("layerSet", v.layerSet());
            row.put("budget", v.budget());
            row.put("keptFraction", v.keptFraction());
            row.put("perplexityRise", perplexityRise(v.evaluation()));
            row.put("layers", v.layers());
            row.put("evaluation", evaluation(v.evaluation()));
            rows.add(row);
        }
        root.put("variants", rows);
        root.put("verdict", verdict().strip().split("\n"));
        root.put("bands", bands);
        root.put("seconds", seconds);
        return root;
    }

    private static Map<String, Object> evaluation(DemoCommand.Evaluation e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("recitation", e.recitation().bySource());
        m.put("perplexity", e.heldout().perplexity());
        m.put("ndcgK", e.heldout().k());
        m.put("ndcg", e.heldout().ndcg());
        List<Map<String, Object>> outcomes = new ArrayList<>();
        for (RecitationEval.Outcome o : e.recitation().outcomes()) {
            Map<String, Object> sample = new LinkedHashMap<>();
            sample.put("id", o.id());
            sample.put("source", o.source());
            sample.put("levenshtein", o.distance());
            sample.put("teacherForcedAccuracy", o.teacherForcedAccuracy());
            outcomes.add(sample);
        }
        m.put("samples", outcomes);
        return m;
    }

    /** recitation-vs-budget.png (canary strict and loose) and perplexity-vs-budget.png, one line per method × set. */
    void writePlots(Path run) throws IOException {
        plot(run.resolve("recitation-vs-budget.png"), "Canary recitation after the edit (strict, exact suffix)",
                "canaries recited exactly (fraction)", false,
                e -> e.recitation().bySource().get("canaries").strict(),
                baseline.recitation().bySource().get("canaries").strict());
        plot(run.resolve("perplexity-vs-budget.png"), "Held-out perplexity after the edit",
                "held-out perplexity (log scale)", true, e -> e.heldout().perplexity().perplexity(),
                baseline.heldout().perplexity().perplexity());
    }

    private void plot(Path png, String title, String yTitle, boolean logarithmic,
                      ToDoubleFunction<DemoCommand.Evaluation> metric, double unedited) throws IOException {
        System.setProperty("java.awt.headless", "true");
        boolean mass = budgets.get(0).kind() == EditSweep.Budget.Kind.MASS;
        XYChart chart = new XYChartBuilder().width(1000).height(650).title(title)
                .xAxisTitle(mass ? "ρ (curvature mass the K-FAC edit keeps)" : "fraction of components kept")
                .yAxisTitle(yTitle).build();
        chart.getStyler().setYAxisLogarithmic(logarithmic);
        chart.getStyler().setLegendVisible(true);
        Color[] colours = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x7f7f7f), new Color(0x2ca02c)};
        // colour = method, line and marker = layer set
        BasicStroke[] strokes = {SeriesLines.SOLID, SeriesLines.DASH_DASH, SeriesLines.DOT_DOT, SeriesLines.DASH_DOT};
        var markers = new org.knowm.xchart.style.markers.Marker[]{SeriesMarkers.CIRCLE, SeriesMarkers.SQUARE,
                SeriesMarkers.DIAMOND, SeriesMarkers.TRIANGLE_UP};
        for (int s = 0; s < sets.size(); s++) {
            for (EditSweep.Method method : EditSweep.Method.values()) {
                List<Double> x = new ArrayList<>();
                List<Double> y = new ArrayList<>();
                for (var v : variants) {
                    if (v.method() == method && v.layerSet().equals(sets.get(s).name())) {
                        x.add(v.budget().value());
                        y.add(metric.applyAsDouble(v.evaluation()));
                    }
                }
                if (x.isEmpty() || logarithmic && y.stream().anyMatch(value -> !(value > 0))) {
                    continue;
                }
                XYSeries series = chart.addSeries(label(method) + ", " + sets.get(s).name(), x, y);
                series.setLineColor(colours[method.ordinal()]);
                series.setMarkerColor(colours[method.ordinal()]);
                series.setLineStyle(strokes[s % strokes.length]);
                series.setMarker(markers[s % markers.length]);
            }
        }
        List<Double> xs = budgets.stream().map(EditSweep.Budget::value).toList();
        XYSeries reference = chart.addSeries("unedited", xs, xs.stream().map(v -> unedited).toList());
        reference.setLineColor(Color.BLACK);
        reference.setLineStyle(SeriesLines.DOT_DOT);
        reference.setMarker(SeriesMarkers.NONE);
        String name = png.toString();
        BitmapEncoder.saveBitmap(chart, name.substring(0, name.length() - ".png".length()),
                BitmapEncoder.BitmapFormat.PNG);
    }
}
