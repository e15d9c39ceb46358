package dev.curvature.spark;

import dev.curvature.cli.CurvatureCommand;
import dev.curvature.engine.CovariancePrecision;
import dev.curvature.engine.DType;
import dev.curvature.kfac.FactorCollection;
import dev.curvature.kfac.KfacCollector;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Spark job on local[2] (four task retries) against the one-machine {@code curvature collect} over the same
 * corpus files, compared byte for byte; the workbench GPT-2 (4 blocks, 128 wide, byte tokens) keeps it fast.
 */
class SparkCollectionTest {
    static final Path MODEL = Path.of("..", "models", "workbench-gpt2").toAbsolutePath().normalize();
    static final int TIME = 32;
    static final int BATCH = 4;

    static JavaSparkContext spark;

    @BeforeAll
    static void startSpark() {
        SparkConf conf = new SparkConf().setMaster("local[2,4]").setAppName("SparkCollectionTest")
                .set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1")
                .set("spark.ui.enabled", "false");
        spark = new JavaSparkContext(conf);
        spark.setLogLevel("ERROR");
    }

    @AfterAll
    static void stopSpark() {
        spark.close();
    }

    /** Text of {@code lines} pseudo-random lines of lowercase words (seeded: the same every run). */
    static String text(long seed, int lines) {
        Random random = new Random(seed);
        StringBuilder s = new StringBuilder();
        for (int l = 0; l < lines; l++) {
            int words = 3 + random.nextInt(8);
            for (int w = 0; w < words; w++) {
                int length = 1 + random.nextInt(7);
                for (int c = 0; c < length; c++) {
                    s.append((char) ('a' + random.nextInt(26)));
                }
                s.append(w + 1 < words ? ' ' : '.');
            }
            s.append('\n');
        }
        return s.toString();
    }

    static CollectRequest request(KfacCollector.Labels labels, long seed, long checkpointEvery) {
        return new CollectRequest(MODEL.toString(), null, DType.F32, "mlp", labels, seed, BATCH, TIME, 0,
                CovariancePrecision.F32_WITH_F64_SUMS, checkpointEvery);
    }

    /** {@code curvature collect} on one machine, one thread (as one Spark task core), over {@code files}. */
    static byte[] collectOnOneMachine(List<Path> files, KfacCollector.Labels labels, long seed, Path out)
            throws IOException {
        List<String> args = new ArrayList<>(List.of("collect", "--model", MODEL.toString(), "--out", out.toString(),
                "--layers", "mlp", "--labels", labels.name(), "--seed", String.valueOf(seed), "--batch",
                String.valueOf(BATCH), "--time", String.valueOf(TIME), "--threads", "1", "--corpus"));
        files.forEach(f -> args.add(f.toString()));
        assertEquals(0, CurvatureCommand.commandLine().execute(args.toArray(String[]::new)), "collect failed");
        return Files.readAllBytes(out);
    }

    static List<Path> fourFiles(Path dir) throws IOException {
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Path f = dir.resolve("corpus-" + i + ".txt");
            Files.writeString(f, text(100 + i, 40 + 10 * i), StandardCharsets.UTF_8);
            files.add(f);
        }
        return files;
    }

    static CorpusManifest manifestOf(List<Path> files, Path manifest) throws IOException {
        StringBuilder s = new StringBuilder("# one shard per file\n");
        files.forEach(f -> s.append(manifest.getParent().relativize(f)).append('\n'));
        Files.writeString(manifest, s);
        return CorpusManifest.read(manifest);
    }

    /** The byte ranges of a manifest written out as files (what a one-machine collect gets as --corpus). */
    static List<Path> rangeFiles(CorpusManifest manifest, Path dir) throws IOException {
        List<Path> files = new ArrayList<>();
        for (CorpusManifest.Shard s : manifest.shards()) {
            files.add(CorpusManifest.textOf(s, dir.resolve("range-" + s.index())));
        }
        return files;
    }

    @Test
    void goldLabelsOverFourFilesAreBitIdenticalToOneMachineCollect(@TempDir Path dir) throws IOException {
        List<Path> files = fourFiles(dir);
        byte[] expected = collectOnOneMachine(files, KfacCollector.Labels.GOLD, 0, dir.resolve("one-machine.safetensors"));
        Path out = dir.resolve("spark.safetensors");
        CollectJob.Report report = CollectJob.run(spark, request(KfacCollector.Labels.GOLD, 0, 1_000_000),
                manifestOf(files, dir.resolve("corpus.manifest")), out);
        assertArrayEquals(expected, Files.readAllBytes(out));
        assertEquals(4, report.description().corpus().size());
        assertEquals(List.of(0, 1, 2, 3), report.shards().stream().map(ShardCollection.Outcome::index).toList());
        for (int i = 0; i < 4; i++) {
            assertFalse(Files.exists(FactorCollection.shardOf(out, i)), "shard file " + i + " left behind");
        }
    }

    @Test
    void sampledLabelsOverFourByteRangesAreBitIdenticalEvenWithATaskKilledMidway(@TempDir Path dir)
            throws IOException {
        Path corpus = dir.resolve("corpus.txt");
        Files.writeString(corpus, text(7, 200), StandardCharsets.UTF_8);
        CorpusManifest manifest = CorpusManifest.split(corpus, 4, dir.resolve("ranges.manifest"));
        byte[] expected = collectOnOneMachine(rangeFiles(manifest, dir), KfacCollector.Labels.SAMPLED, 5,
                dir.resolve("one-machine.safetensors"));

        Path out = dir.resolve("spark.safetensors");
        CollectJob.run(spark, request(KfacCollector.Labels.SAMPLED, 5, 1_000_000), manifest, out);
        assertArrayEquals(expected, Files.readAllBytes(out));

        // shard 2's first attempt checkpoints after every batch and dies after its first; the retry resumes from
        // that checkpoint (sampled labels included) and the merge is still the same bytes
        Path retried = dir.resolve("spark-retried.safetensors");
        spark.setLocalProperty(CollectJob.FAIL_FIRST_ATTEMPT, "2");
        try {
            CollectJob.run(spark, request(KfacCollector.Labels.SAMPLED, 5, (long) BATCH * TIME), manifest, retried);
        } finally {
            spark.setLocalProperty(CollectJob.FAIL_FIRST_ATTEMPT, null);
        }
        assertArrayEquals(expected, Files.readAllBytes(retried));
        assertFalse(java.util.Arrays.equals(expected, collectOnOneMachine(rangeFiles(manifest, dir.resolve("seed6")),
                KfacCollector.Labels.SAMPLED, 6, dir.resolve("seed6.safetensors"))), "another seed gives other factors");
    }

    @Test
    void aResubmittedJobKeepsShardsAlreadyWrittenForTheSameRequest(@TempDir Path dir) throws IOException {
        List<Path> files = fourFiles(dir);
        CorpusManifest manifest = manifestOf(files, dir.resolve("corpus.manifest"));
        byte[] expected = collectOnOneMachine(files, KfacCollector.Labels.GOLD, 0, dir.resolve("one-machine.safetensors"));
        Path out = dir.resolve("spark.safetensors");
        CollectRequest request = request(KfacCollector.Labels.GOLD, 0, 1_000_000);
        // shards 1 and 3 finished before the job was stopped
        for (int i : new int[]{1, 3}) {
            ShardCollection.collect(request, manifest.shards().get(i), FactorCollection.shardOf(out, i), 1, w -> {
            });
        }
        CollectJob.Report report = CollectJob.run(spark, request, manifest, out);
        assertEquals(List.of(false, true, false, true),
                report.shards().stream().map(ShardCollection.Outcome::reused).toList());
        assertArrayEquals(expected, Files.readAllBytes(out));
    }

    @Test
    void aShardWrittenWithAnotherSeedIsRefusedNamingTheFile(@TempDir Path dir) throws IOException {
        Path corpus = dir.resolve("corpus.txt");
        Files.writeString(corpus, text(9, 120), StandardCharsets.UTF_8);
        CorpusManifest manifest = CorpusManifest.split(corpus, 4, dir.resolve("ranges.manifest"));
        Path out = dir.resolve("spark.safetensors");
        Path stale = FactorCollection.shardOf(out, 2);
        ShardCollection.collect(request(KfacCollector.Labels.SAMPLED, 1, 1_000_000), manifest.shards().get(2), stale, 1,
                w -> {
                });
        Exception e = assertThrows(Exception.class,
                () -> CollectJob.run(spark, request(KfacCollector.Labels.SAMPLED, 0, 1_000_000), manifest, out));
        assertTrue(e.getMessage().contains(stale.toString()) && e.getMessage().contains("seed: 1 there, 0 here"),
                e.getMessage());
        assertFalse(Files.exists(out));
    }

    @Test
    void aModelAndCorpusAtHadoopUrisGiveTheSameBytes(@TempDir Path dir) throws IOException {
        List<Path> files = fourFiles(dir).subList(0, 2);
        long half = Files.readString(files.get(1)).indexOf('\n', 600) + 1;
        Files.writeString(dir.resolve("uris.manifest"), files.get(0).toUri() + "\n" + files.get(1).toUri() + " 0 "
                + half + "\n");
        CorpusManifest manifest = CorpusManifest.read(dir.resolve("uris.manifest"));
        Path firstHalf = dir.resolve("half").resolve(files.get(1).getFileName());
        Files.createDirectories(firstHalf.getParent());
        Files.write(firstHalf, java.util.Arrays.copyOf(Files.readAllBytes(files.get(1)), (int) half));
        byte[] expected = collectOnOneMachine(List.of(files.get(0), firstHalf), KfacCollector.Labels.GOLD, 0,
                dir.resolve("one-machine.safetensors"));
        System.setProperty("curvature.modelCache", dir.resolve("model-cache").toString());
        try {
            CollectRequest request = CollectRequest.resolve(MODEL.toUri().toString(), null, DType.F32, "mlp",
                    KfacCollector.Labels.GOLD, 0, BATCH, TIME, 0, false, 1_000_000);
            Path out = dir.resolve("spark.safetensors");
            CollectJob.run(spark, request, manifest, out);
            assertArrayEquals(expected, Files.readAllBytes(out));
            try (var copies = Files.list(dir.resolve("model-cache"))) {
                assertEquals(1, copies.count(), "one local copy of the model");
            }
        } finally {
            System.clearProperty("curvature.modelCache");
        }
    }
}
