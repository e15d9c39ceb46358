package dev.curvature.cli;

import dev.curvature.kfac.probe.LandscapeProbe;
import dev.curvature.kfac.probe.ProbeSweep;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.ToDoubleFunction;

/**
 * PNGs of a probe sweep: Δ against k on log-log axes (one line per σ and estimator, the mean over seeds at each k),
 * and Δ₂^(D)/Δ₂ against σ on a log σ axis (one line per k, the mean over seeds). Non-positive values cannot be drawn
 * on a log axis and are left out of their line.
 */
final class ProbePlot {
    private ProbePlot() {
    }

    static void deltaAgainstK(Path png, ProbeSweep sweep, List<Double> sigmas) throws IOException {
        XYChart chart = chart("Δ against k (mean over seeds)", "k (sequences)", "Δ = E[(L_{k+1} − L_k)²]");
        chart.getStyler().setXAxisLogarithmic(true);
        for (int si = 0; si < sigmas.size(); si++) {
            int index = si;
            add(chart, "Δ2^(D) direct σ=" + sigmas.get(si), byK(sweep, r -> r.sigmas().get(index).direct().value()));
            add(chart, "Δ2 full σ=" + sigmas.get(si), byK(sweep, r -> r.sigmas().get(index).fullSpace().value()));
        }
        save(chart, png);
    }

    static void ratioAgainstSigma(Path png, ProbeSweep sweep, List<Double> sigmas) throws IOException {
        XYChart chart = chart("Δ2^(D) / Δ2 against σ (mean over seeds)", "σ", "Δ2^(D) / Δ2");
        chart.getStyler().setXAxisLogarithmic(true);
        Map<Integer, List<LandscapeProbe.Result>> byK = new TreeMap<>();
        sweep.runs().forEach(r -> byK.computeIfAbsent(r.k(), x -> new ArrayList<>()).add(r));
        for (var e : byK.entrySet()) {
            double[] ratio = new double[sigmas.size()];
            for (int si = 0; si < sigmas.size(); si++) {
                for (LandscapeProbe.Result r : e.getValue()) {
                    ratio[si] += r.sigmas().get(si).subspaceRatio() / e.getValue().size();
                }
            }
            add(chart, "k=" + e.getKey(), new double[][]{sigmas.stream().mapToDouble(Double::doubleValue).toArray(),
                    ratio});
        }
        save(chart, png);
    }

    private static double[][] byK(ProbeSweep sweep, ToDoubleFunction<LandscapeProbe.Result> value) {
        Map<Integer, double[]> sums = new TreeMap<>();
        for (LandscapeProbe.Result r : sweep.runs()) {
            double[] s = sums.computeIfAbsent(r.k(), x -> new double[2]);
            s[0] += value.applyAsDouble(r);
            s[1]++;
        }
        double[][] xy = new double[2][sums.size()];
        int i = 0;
        for (var e : sums.entrySet()) {
            xy[0][i] = e.getKey();
            xy[1][i++] = e.getValue()[0] / e.getValue()[1];
        }
        return xy;
    }

    private static XYChart chart(String title, String x, String y) {
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder().width(1000).height(650).title(title).xAxisTitle(x).yAxisTitle(y).build();
        chart.getStyler().setYAxisLogarithmic(true);
        chart.getStyler().setLegendVisible(true);
        return chart;
    }

    private static void add(XYChart chart, String name, double[][] xy) {
        List<Double> x = new ArrayList<>();
        List<Double> y = new ArrayList<>();
        for (int i = 0; i < xy[0].length; i++) {
            if (xy[1][i] > 0) {
                x.add(xy[0][i]);
                y.add(xy[1][i]);
            }
        }
        if (!x.isEmpty()) {
            XYSeries series = chart.addSeries(name, x, y);
            series.setMarker(SeriesMarkers.CIRCLE);
        }
    }

    private static void save(XYChart chart, Path png) throws IOException {
        String name = png.toString();
        BitmapEncoder.saveBitmap(chart, name.endsWith(".png") ? name.substring(0, name.length() - 4) : name,
                BitmapEncoder.BitmapFormat.PNG);
    }
}
