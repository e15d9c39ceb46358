package dev.curvature.cli;

import dev.curvature.transformer.data.ImageDataset;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/**
 * PNGs of a score run: the k highest-scoring training images as a grid (each with its index, training label and true
 * label, framed red when the label was flipped), and a histogram of log10(score) for positives and the rest.
 */
final class ScorePlots {
    private static final int SCALE = 3;
    private static final int CAPTION = 30;

    private ScorePlots() {
    }

    /** The indices of the {@code k} largest scores, largest first (ties by index). */
    static int[] top(double[] score, int k) {
        return IntStream.range(0, score.length).boxed()
                .sorted(Comparator.<Integer>comparingDouble(i -> -score[i]).thenComparingInt(i -> i))
                .limit(k).mapToInt(Integer::intValue).toArray();
    }

    /**
     * Grid of images {@code indices} (8 per row), each scaled ×3, captioned "#index label (true t)".
     *
     * @param labels     the training labels (N)
     * @param trueLabels the dataset's labels (N)
     */
    static void topImages(Path png, String title, ImageDataset images, int[] indices, int[] labels, int[] trueLabels)
            throws IOException {
        System.setProperty("java.awt.headless", "true");
        int perRow = 8;
        int cellWidth = images.columns() * SCALE + 8;
        int cellHeight = images.rows() * SCALE + CAPTION;
        int rows = (indices.length + perRow - 1) / perRow;
        BufferedImage canvas = new BufferedImage(perRow * cellWidth, 28 + rows * cellHeight, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, canvas.getWidth(), canvas.getHeight());
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
        g.drawString(title, 6, 18);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        int pixels = images.rows() * images.columns();
        for (int n = 0; n < indices.length; n++) {
            int index = indices[n];
            int x0 = (n % perRow) * cellWidth + 4;
            int y0 = 28 + (n / perRow) * cellHeight;
            for (int r = 0; r < images.rows(); r++) {
                for (int c = 0; c < images.columns(); c++) {
                    int v = 255 - (images.pixels()[index * pixels + r * images.columns() + c] & 0xFF);
                    g.setColor(new Color(v, v, v));
                    g.fillRect(x0 + c * SCALE, y0 + r * SCALE, SCALE, SCALE);
                }
            }
            boolean flipped = labels[index] != trueLabels[index];
            if (flipped) {
                g.setColor(Color.RED);
                g.setStroke(new BasicStroke(2));
                g.drawRect(x0 - 1, y0 - 1, images.columns() * SCALE + 1, images.rows() * SCALE + 1);
            }
            g.setColor(flipped ? Color.RED : Color.DARK_GRAY);
            g.drawString("#" + index + " label " + labels[index], x0, y0 + images.rows() * SCALE + 12);
            g.drawString("true " + trueLabels[index], x0, y0 + images.rows() * SCALE + 24);
        }
        g.dispose();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ImageIO.write(canvas, "png", bytes);
        OutputFiles.writeAtomically(png, bytes.toByteArray());
    }

    /**
     * Histogram of log10(score) in {@code bins} equal bins, as the share of each group per bin: one line for the
     * positives ({@code positive[i]}, e.g. flipped labels) and one for the rest.
     */
    static void histogram(Path png, String title, double[] score, boolean[] positive, String positiveName,
                          String negativeName, int bins) throws IOException {
        System.setProperty("java.awt.headless", "true");
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (double s : score) {
            if (s > 0) {
                lo = Math.min(lo, Math.log10(s));
                hi = Math.max(hi, Math.log10(s));
            }
        }
        XYChart chart = new XYChartBuilder().width(900).height(550).title(title)
                .xAxisTitle("log10(score)").yAxisTitle("samples per bin (share of the group)").build();
        chart.getStyler().setLegendVisible(true);
        chart.getStyler().setXAxisDecimalPattern("0.0");
        if (lo < hi) {
            for (boolean group : new boolean[]{true, false}) {
                double[] counts = new double[bins];
                int members = 0;
                for (int i = 0; i < score.length; i++) {
                    if (positive[i] == group && score[i] > 0) {
                        int bin = (int) Math.min(bins - 1, (Math.log10(score[i]) - lo) / (hi - lo) * bins);
                        counts[bin]++;
                        members++;
                    }
                }
                List<Double> x = new ArrayList<>();
                List<Double> y = new ArrayList<>();
                for (int b = 0; b < bins; b++) {
                    x.add(lo + (b + 0.5) * (hi - lo) / bins);
                    y.add(members == 0 ? 0 : counts[b] / members);
                }
                XYSeries series = chart.addSeries((group ? positiveName : negativeName) + " (" + members + ")", x, y);
                series.setMarker(SeriesMarkers.NONE);
            }
        }
        OutputFiles.writeAtomically(png, BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG));
    }
}
