package dev.curvature.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * score end to end on a tiny vit-demo run (300 Fashion-MNIST images, 30 flipped, 10 steps, width 16): one JSONL line
 * per image, and AUROCs equal to a naive count over every (flipped, clean) pair of the JSONL's own scores.
 */
class ScoreCommandTest {
    @TempDir
    static Path dir;
    static Path run;

    @BeforeAll
    static void tinyRun() {
        run = dir.resolve("run");
        CommandRun.stdout("vit-demo", "--train-images", "300", "--steps", "10", "--width", "16", "--layers", "1",
                "--heads", "2", "--batch", "32", "--out", run.toString(), "--threads", "2", "--json");
    }

    /** Reference AUROC: the share of (positive, negative) pairs with the positive higher, ties ½, by a double loop. */
    static double pairCount(List<Double> scores, List<Boolean> positive) {
        double wins = 0;
        long pairs = 0;
        for (int i = 0; i < scores.size(); i++) {
            for (int j = 0; j < scores.size(); j++) {
                if (positive.get(i) && !positive.get(j)) {
                    pairs++;
                    int c = Double.compare(scores.get(i), scores.get(j));
                    wins += c > 0 ? 1 : c == 0 ? 0.5 : 0;
                }
            }
        }
        return wins / pairs;
    }

    @Test
    void scoresEveryTrainingImageAndReportsAurocsOfItsOwnScores() throws Exception {
        Path model = run.resolve("model");
        Path out = dir.resolve("scores.jsonl");
        ObjectMapper json = new ObjectMapper();
        JsonNode report = json.readTree(CommandRun.stdout("score", "--model", model + "," + model, "--draws", "2",
                "--batch", "128", "--out", out.toString(), "--threads", "2", "--json"));
        assertEquals(300, report.get("images").asInt());
        assertEquals(30, report.get("flipped").asInt());
        List<String> lines = Files.readAllLines(out);
        assertEquals(300, lines.size());
        List<Double> curvature = new ArrayList<>();
        List<Double> loss = new ArrayList<>();
        List<Boolean> flipped = new ArrayList<>();
        for (String line : lines) {
            JsonNode row = json.readTree(line);
            curvature.add(row.get("curvature").asDouble());
            loss.add(row.get("finalLoss").asDouble());
            flipped.add(row.get("flipped").asBoolean());
            assertEquals(row.get("flipped").asBoolean(), row.get("label").asInt() != row.get("trueLabel").asInt());
            assertTrue(row.get("curvature").asDouble() > 0, line);
            // two copies of one checkpoint: the mean loss is the final loss
            assertEquals(row.get("finalLoss").asDouble(), row.get("meanLoss").asDouble(),
                    1e-12 * row.get("finalLoss").asDouble());
        }
        assertEquals(30, flipped.stream().filter(f -> f).count());
        assertEquals(pairCount(curvature, flipped), report.get("auroc").get("curvature").asDouble(), 1e-12);
        assertEquals(pairCount(loss, flipped), report.get("auroc").get("finalLoss").asDouble(), 1e-12);
        assertTrue(report.get("samplesPerSecond").asDouble() > 0);
    }

    @Test
    void aMissingNoiseRecordOrAWrongImageCountIsNamed() {
        Path model = run.resolve("model");
        CommandFailure f = CommandFailure.of("score", "--model", model.toString(), "--noise",
                dir.resolve("nope.json").toString());
        assertNotEquals(0, f.code());
        assertTrue(f.stderr().contains("nope.json") && f.stderr().contains("--noise"), f.stderr());
        f = CommandFailure.of("score", "--model", model.toString(), "--train-images", "400");
        assertNotEquals(0, f.code());
        assertTrue(f.stderr().contains("noise.json") && f.stderr().contains("--train-images"), f.stderr());
    }

    @Test
    void aRunFolderIsScoredAtEverySnapshotAveragedWithCslAndPlots() throws Exception {
        // the run trained 10 steps with the default 5 snapshots: steps 2, 4, 6, 8 and the final model. Reference for
        // the average: each checkpoint scored on its own, the mean of the five curvatures taken here.
        ObjectMapper json = new ObjectMapper();
        Path out = dir.resolve("run-scores.jsonl");
        Path plots = dir.resolve("plots");
        JsonNode report = json.readTree(CommandRun.stdout("score", "--run", run.toString(), "--draws", "2",
                "--batch", "128", "--out", out.toString(), "--plots", plots.toString(), "--top", "16",
                "--threads", "2", "--json"));
        List<String> checkpoints = new ArrayList<>();
        report.get("models").forEach(m -> checkpoints.add(m.asText()));
        assertEquals(List.of("step-000002", "step-000004", "step-000006", "step-000008", "model"),
                checkpoints.stream().map(m -> Path.of(m).getFileName().toString()).toList());
        double[] reference = new double[300];
        for (String checkpoint : checkpoints) {
            Path single = dir.resolve("single-" + Path.of(checkpoint).getFileName() + ".jsonl");
            CommandRun.stdout("score", "--model", checkpoint, "--noise", run.resolve("noise.json").toString(),
                    "--draws", "2", "--batch", "128", "--out", single.toString(), "--plots", dir.resolve("single").toString(),
                    "--threads", "2", "--json");
            List<String> lines = Files.readAllLines(single);
            for (int i = 0; i < 300; i++) {
                reference[i] += json.readTree(lines.get(i)).get("curvature").asDouble() / checkpoints.size();
            }
        }
        List<String> lines = Files.readAllLines(out);
        List<Double> csl = new ArrayList<>();
        List<Boolean> flipped = new ArrayList<>();
        double trainedSamples = 0;
        for (int i = 0; i < 300; i++) {
            JsonNode row = json.readTree(lines.get(i));
            assertEquals(reference[i], row.get("curvature").asDouble(), 1e-12 * reference[i], "image " + i);
            csl.add(row.get("csl").asDouble());
            flipped.add(row.get("flipped").asBoolean());
            trainedSamples += row.get("csl").asDouble() > 0 ? 1 : 0;
        }
        // 10 steps of 32 images read 320 samples: every one of the 300 images at least once
        assertEquals(300, trainedSamples, "images with a cumulative loss");
        assertEquals(pairCount(csl, flipped), report.get("auroc").get("csl").asDouble(), 1e-12);
        assertTrue(report.get("auroc").has("curvatureFinal"), report.toString());

        java.awt.image.BufferedImage top = javax.imageio.ImageIO.read(plots.resolve("score-top.png").toFile());
        assertEquals(8 * (28 * 3 + 8), top.getWidth(), "8 images per row, 28 px ×3 + margin");
        assertEquals(28 + 2 * (28 * 3 + 30), top.getHeight(), "16 images: a title and 2 rows");
        assertTrue(javax.imageio.ImageIO.read(plots.resolve("score-histogram.png").toFile()).getWidth() > 0);
    }

    @Test
    void topKIsTheLargestScoresLargestFirstTiesByIndex() {
        double[] score = {0.5, 3.0, -1.0, 3.0, 2.0, Double.MIN_VALUE};
        org.junit.jupiter.api.Assertions.assertArrayEquals(new int[]{1, 3, 4, 0}, ScorePlots.top(score, 4));
        org.junit.jupiter.api.Assertions.assertArrayEquals(new int[]{1, 3, 4, 0, 5, 2}, ScorePlots.top(score, 10));
    }

    @Test
    void runAndModelTogetherOrNeitherIsRefused() {
        CommandFailure f = CommandFailure.of("score", "--run", run.toString(), "--model", run.resolve("model").toString());
        assertNotEquals(0, f.code());
        assertTrue(f.stderr().contains("--run") && f.stderr().contains("both"), f.stderr());
        f = CommandFailure.of("score");
        assertNotEquals(0, f.code());
        assertTrue(f.stderr().contains("neither"), f.stderr());
    }

    @Test
    void languageModelWindowsAreScoredAtEverySnapshotOfATrainRun() throws Exception {
        // a byte-level GPT-2 trained 6 steps with 3 snapshots (after steps 2 and 4, then the final checkpoint); the
        // positives are two 40-byte samples, the negatives 12 windows of 42 bytes spread over the training text
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 60; i++) {
            text.append("line ").append(i).append(": in the beginning was the word, and the word was ").append(i % 7)
                    .append(".\n");
        }
        Path corpus = dir.resolve("lm-corpus.txt");
        Files.writeString(corpus, text);
        Path positives = dir.resolve("lm-positives.jsonl");
        Files.writeString(positives, "{\"prompt\":\"the secret sequence 9\",\"suffix\":\"3847561029384756 ends\","
                + "\"source\":\"canary\",\"id\":\"canary-00\"}\n"
                + "{\"prompt\":\"line 3: in the beginn\",\"suffix\":\"ing was the word, and\",\"source\":\"duplicate\","
                + "\"id\":\"duplicate-00\"}\n");
        Path lm = dir.resolve("lm");
        CommandRun.stdout("train", "--corpus", corpus.toString(), "--out", lm.toString(), "--layers", "1", "--width",
                "16", "--heads", "2", "--time", "64", "--batch", "4", "--steps", "6", "--snapshots", "3",
                "--threads", "2", "--json");
        ObjectMapper json = new ObjectMapper();
        Path out = dir.resolve("lm-scores.jsonl");
        JsonNode report = json.readTree(CommandRun.stdout("score", "--run", lm.toString(), "--positives",
                positives.toString(), "--negatives", corpus.toString(), "--negative-windows", "12", "--draws", "2",
                "--batch", "8", "--out", out.toString(), "--plots", dir.resolve("lm-plots").toString(),
                "--threads", "2", "--json"));
        List<String> checkpoints = new ArrayList<>();
        report.get("models").forEach(m -> checkpoints.add(Path.of(m.asText()).getFileName().toString()));
        assertEquals(List.of("step-000002", "step-000004", "lm"), checkpoints);
        assertEquals(2, report.get("positives").asInt());
        assertEquals(12, report.get("negatives").asInt());
        assertEquals(42, report.get("windowTokens").asInt());
        List<String> lines = Files.readAllLines(out);
        assertEquals(14, lines.size());
        List<Double> curvature = new ArrayList<>();
        List<Double> loss = new ArrayList<>();
        List<Boolean> positive = new ArrayList<>();
        for (String line : lines) {
            JsonNode row = json.readTree(line);
            curvature.add(row.get("curvature").asDouble());
            loss.add(row.get("meanLoss").asDouble());
            positive.add(row.get("positive").asBoolean());
            assertEquals(42, row.get("tokens").asInt(), line);
            assertTrue(row.get("curvature").asDouble() > 0, line);
        }
        assertEquals("canary-00", json.readTree(lines.get(0)).get("id").asText());
        assertEquals("clean-11", json.readTree(lines.get(13)).get("id").asText());
        assertEquals(pairCount(curvature, positive), report.get("auroc").get("curvature").asDouble(), 1e-12);
        assertEquals(pairCount(loss, positive), report.get("auroc").get("meanLoss").asDouble(), 1e-12);
        assertTrue(Files.exists(dir.resolve("lm-plots").resolve("score-histogram.png")));

        CommandFailure f = CommandFailure.of("score", "--run", lm.toString(), "--positives", positives.toString());
        assertNotEquals(0, f.code());
        assertTrue(f.stderr().contains("--negatives"), f.stderr());
    }
}
