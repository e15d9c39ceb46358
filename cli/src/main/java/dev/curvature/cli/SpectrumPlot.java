package dev.curvature.cli;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * PNG of factor spectra: eigenvalue (log scale) against its index, one line per factor (G and A of every layer).
 * Eigenvalues clipped to zero cannot be drawn on a log axis and are left out of their line.
 */
final class SpectrumPlot {
    private SpectrumPlot() {
    }

    static void write(Path png, String title, Map<String, double[]> spectra) throws IOException {
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder().width(1000).height(650).title(title)
                .xAxisTitle("eigenvalue index (descending)").yAxisTitle("eigenvalue of the factor / n").build();
        chart.getStyler().setYAxisLogarithmic(true);
        chart.getStyler().setXAxisLogarithmic(false);
        chart.getStyler().setMarkerSize(0);
        chart.getStyler().setLegendVisible(true);
        for (Map.Entry<String, double[]> e : spectra.entrySet()) {
            List<Double> x = new ArrayList<>();
            List<Double> y = new ArrayList<>();
            double[] values = e.getValue();
            for (int i = 0; i < values.length; i++) {
                if (values[i] > 0) {
                    x.add((double) i);
                    y.add(values[i]);
                }
            }
            if (!x.isEmpty()) {
                XYSeries series = chart.addSeries(e.getKey(), x, y);
                series.setMarker(SeriesMarkers.NONE);
            }
        }
        // exactly the name given (BitmapEncoder.saveBitmap would append ".png"), written whole or not at all
        OutputFiles.writeAtomically(png, BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG));
    }

    /** An insertion-ordered map for building {@link #write}'s input. */
    static Map<String, double[]> newSpectra() {
        return new LinkedHashMap<>();
    }
}
