package dev.curvature.spark;

import dev.curvature.engine.Backend;
import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.kfac.FactorCollection;
import dev.curvature.kfac.FactorStore;
import dev.curvature.kfac.KfacCollector;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkExecutorInfo;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;

import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.IntStream;

/**
 * The spark-submit main of a distributed K-FAC collection: one task per corpus shard of the manifest writes that
 * shard's factors ({@link ShardCollection}); the driver then adds the shard files in shard-index order with the
 * library's merge and writes the factor file. That is exactly what {@code curvature collect --corpus F0 F1 …} does on
 * one machine, so the bytes are the same. Nothing is reduced inside Spark: {@code RDD.reduce} would add shards in
 * task-completion order, and float addition is not associative.
 *
 * <p>A re-submitted job keeps shards already written for the same request (and refuses one of another request,
 * naming the file); shard files are removed once the factor file is written.
 */
public final class CollectJob {
    /**
     * Test and demonstration hook (a Spark setting or local property): "INDEX" fails the first attempt of shard
     * INDEX after its first batch; "INDEX:halt" kills the executor's JVM there instead.
     */
    public static final String FAIL_FIRST_ATTEMPT = "spark.curvature.test.failFirstAttempt";

    private CollectJob() {
    }

    /** What a job did: per-shard outcomes in index order, the merged description, and where the time went. */
    public record Report(List<ShardCollection.Outcome> shards, FactorStore.Description description, double shardSeconds,
                         double mergeSeconds, long jobStartMillis) {
        /** Seconds from the job's start to its first task's start: executor launch and scheduling. */
        public double launchSeconds() {
            return (shards.stream().mapToLong(ShardCollection.Outcome::startedAtMillis).min().orElse(jobStartMillis)
                    - jobStartMillis) / 1e3;
        }
    }

    /** Runs the collection of {@code request} over {@code manifest} into {@code out} on {@code spark}. */
    public static Report run(JavaSparkContext spark, CollectRequest request, CorpusManifest manifest, Path out)
            throws IOException {
        Path output = out.toAbsolutePath();
        List<CorpusManifest.Shard> shards = manifest.shards();
        int threads = ExecutorSettings.taskCpus(spark.getConf());
        String failSetting = spark.getLocalProperty(FAIL_FIRST_ATTEMPT);
        FailFirstAttempt fail = FailFirstAttempt.parse(failSetting != null ? failSetting
                : spark.getConf().get(FAIL_FIRST_ATTEMPT, ""));
        String outputPath = output.toString();   // closures travel to executors: a Path does not serialize
        long startMillis = System.currentTimeMillis();
        long start = System.nanoTime();
        List<ShardCollection.Outcome> collected;
        try {
            collected = spark
                    .parallelize(IntStream.range(0, shards.size()).boxed().toList(), shards.size())
                    .map(i -> ShardCollection.collect(request, shards.get(i),
                            FactorCollection.shardOf(Path.of(outputPath), i), threads,
                            windows -> fail.maybeFail(i, windows)))
                    .collect();
        } catch (Exception e) {
            // a failed job returns while its other tasks are still being killed and may still write their shard
            // files: wait for them, so nothing is written next to the output after the error reaches the caller
            awaitNoRunningTasks(spark, 60_000);
            throw e;
        }
        double shardSeconds = (System.nanoTime() - start) / 1e9;
        // one outcome per shard index, whatever retries or speculative copies ran
        Map<Integer, ShardCollection.Outcome> byIndex = new TreeMap<>();
        collected.forEach(o -> byIndex.putIfAbsent(o.index(), o));
        if (byIndex.size() != shards.size()) {
            throw new IllegalStateException("the job returned " + byIndex.size() + " of " + shards.size() + " shards");
        }
        long mergeStart = System.nanoTime();
        FactorStore.Description description = mergeInOrder(output, shards.size(), threads);
        return new Report(List.copyOf(byIndex.values()), description, shardSeconds,
                (System.nanoTime() - mergeStart) / 1e9, startMillis);
    }

    /** Polls the executors until none runs a task, or {@code timeoutMillis} passed. */
    private static void awaitNoRunningTasks(JavaSparkContext spark, long timeoutMillis) {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (System.currentTimeMillis() < deadline && Arrays.stream(spark.statusTracker()
                .getExecutorInfos()).mapToInt(SparkExecutorInfo::numRunningTasks).sum() > 0) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * Adds shard files 0…n-1 in that order into {@code output} as {@link FactorCollection#runParts} does (one shard:
     * the shard file is the result, as a one-file collect writes it directly), then removes them.
     */
    static FactorStore.Description mergeInOrder(Path output, int n, int threads) throws IOException {
        List<Path> files = IntStream.range(0, n).mapToObj(i -> FactorCollection.shardOf(output, i)).toList();
        try (Backend backend = new CpuBackend(threads)) {
            if (n == 1) {
                FactorStore.Description d;
                try (FactorStore.Loaded only = FactorStore.read(backend, files.get(0))) {
                    d = only.description();
                }
                Files.move(files.get(0), output, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                return d;
            }
            try (FactorStore.Loaded merged = FactorStore.merge(backend, files)) {
                FactorStore.write(output, merged.factors(), merged.description());
                for (Path f : files) {
                    Files.deleteIfExists(f);
                }
                return merged.description();
            }
        }
    }

    /** The kill switch of {@link #FAIL_FIRST_ATTEMPT}: shard {@code index} (-1: none), by exception or JVM halt. */
    record FailFirstAttempt(int index, boolean halt) implements Serializable {
        static FailFirstAttempt parse(String value) {
            if (value.isBlank()) {
                return new FailFirstAttempt(-1, false);
            }
            String[] parts = value.trim().split(":");
            try {
                boolean halt = parts.length == 2 && parts[1].equals("halt");
                if (parts.length > 2 || parts.length == 2 && !halt) {
                    throw new NumberFormatException();
                }
                return new FailFirstAttempt(Integer.parseInt(parts[0]), halt);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(FAIL_FIRST_ATTEMPT + " must be INDEX or INDEX:halt, got '" + value
                        + "'");
            }
        }

        void maybeFail(int shard, long windowsDone) {
            TaskContext task = TaskContext.get();
            if (shard != index || task == null || task.attemptNumber() > 0) {
                return;
            }
            System.err.printf("%s: shard %d, attempt 0, stopped after %d windows%n", FAIL_FIRST_ATTEMPT, shard,
                    windowsDone);
            if (halt) {
                Runtime.getRuntime().halt(137);   // as kill -9 would: no cleanup, the executor is lost
            }
            throw new IllegalStateException(FAIL_FIRST_ATTEMPT + ": shard " + shard + " stopped mid-way on purpose");
        }
    }

    /** {@code spark-submit … curvature-spark.jar --model DIR --manifest FILE --out FILE [collect's options]}. */
    public static void main(String[] args) throws Exception {
        if (args.length == 0 || List.of(args).contains("--help") || List.of(args).contains("-h")) {
            System.out.print(HELP);
            return;
        }
        Map<String, String> options = parse(args);
        String model = required(options, "--model");
        Path manifestFile = Path.of(required(options, "--manifest"));
        Path out = Path.of(required(options, "--out"));
        CollectRequest request = CollectRequest.resolve(model, options.get("--tokenizer"),
                DType.valueOf(options.getOrDefault("--dtype", "F32").toUpperCase(Locale.ROOT)), options.get("--layers"),
                options.containsKey("--labels")
                        ? KfacCollector.Labels.valueOf(options.get("--labels").toUpperCase(Locale.ROOT)) : null,
                number(options, "--seed", 0), (int) number(options, "--batch", 8),
                options.containsKey("--time") ? (int) number(options, "--time", 0) : null,
                number(options, "--max-tokens", 0), options.containsKey("--exact"),
                number(options, "--checkpoint-every", 1_000_000));
        CorpusManifest manifest = CorpusManifest.read(manifestFile);
        SparkConf conf = new SparkConf().setAppName("curvature collect " + out.getFileName());
        var plan = request.memoryPlan(ExecutorSettings.taskCpus(conf));
        ExecutorSettings.apply(conf, plan);
        System.err.printf("memory plan per task: %d MiB native; executors: %s=%s, memoryOverhead %s, "
                        + "OPENBLAS_NUM_THREADS %s%n", plan.total() >> 20, "spark.task.cpus",
                ExecutorSettings.taskCpus(conf), conf.get("spark.executor.memoryOverhead"),
                conf.get("spark.executorEnv.OPENBLAS_NUM_THREADS"));
        long start = System.nanoTime();
        try (JavaSparkContext spark = new JavaSparkContext(conf)) {
            spark.setLogLevel("WARN");
            Report report = run(spark, request, manifest, out);
            System.err.print(describe(report, out, (System.nanoTime() - start) / 1e9));
        }
    }

    /** The job's summary for people: one line per shard, then the factor file and the time split. */
    static String describe(Report report, Path out, double totalSeconds) {
        StringBuilder s = new StringBuilder();
        for (ShardCollection.Outcome o : report.shards()) {
            s.append(String.format(Locale.ROOT, "shard %d: %s, %d tokens, %.1f s, started at +%.1f s, %s%n",
                    o.index(), o.reused() ? "kept (already written for this request)" : "collected", o.tokens(),
                    o.seconds(), (o.startedAtMillis() - report.jobStartMillis()) / 1e3, o.where()));
        }
        s.append(String.format(Locale.ROOT, "factors: %s (%d tokens, %s labels)%n", out, report.description().tokens(),
                report.description().labels()));
        s.append(String.format(Locale.ROOT, "wall %.1f s: shards %.1f s (first task started after %.1f s: executor "
                        + "launch and scheduling), driver merge %.1f s%n", totalSeconds, report.shardSeconds(),
                report.launchSeconds(), report.mergeSeconds()));
        return s.toString();
    }

    static final String HELP = """
            Usage: spark-submit [spark options] curvature-spark.jar --model DIR --manifest FILE --out FILE [options]
            K-FAC factor collection over the corpus shards of a manifest, one Spark task per shard; the driver merges
            the shard files in shard-index order, so the factor file is byte-identical to
            `curvature collect --corpus SHARD0 SHARD1 ...` on one machine with the same options.
              --model DIR            model directory (config.json + safetensors): a path every executor sees, or a
                                     Hadoop URI (hdfs://, s3a://, file://), copied once per machine
              --manifest FILE        one shard per line: PATH, or PATH START END for the byte range [START, END);
                                     relative paths start from the manifest's folder; PATH may be a Hadoop URI
              --out FILE             the factor file (safetensors); shard files <out>.part-N beside it must be on a
                                     path every executor and the driver see (shared POSIX path)
              --tokenizer FILE       tokenizer.json, default the model's own (as collect)
              --dtype F32|F64        compute dtype (default F32; F64 is the audit run)
              --layers LIST          layers to collect, as collect's --layers (default: the family's paper defaults)
              --labels GOLD|SAMPLED  targets for the backward pass (default: the family's default)
              --seed N               seed of the sampled labels (default 0)
              --batch N              windows per batch (default 8)
              --time T               window length in tokens (default: the family's default)
              --max-tokens N         as collect's --max-tokens (default 0: everything)
              --checkpoint-every N   tokens between a task's checkpoints, which a retried task resumes from
                                     (default 1000000)
              --exact                accumulate in exact float64 instead of float32 batches folded into float64
                                     sums (as collect --exact; implied by --dtype F64)
              -h, --help             this text
            Executors get --enable-native-access, --add-modules=jdk.incubator.vector (the vector exp) and the
            --add-opens Kryo needs, OPENBLAS_NUM_THREADS =
            spark.task.cpus and spark.executor.memoryOverhead from the memory plan (a smaller value is refused).
            """;

    private static final List<String> FLAGS = List.of("--exact");
    private static final List<String> VALUED = List.of("--model", "--manifest", "--out", "--tokenizer", "--dtype",
            "--layers", "--labels", "--seed", "--batch", "--time", "--max-tokens", "--checkpoint-every");

    /** Every option {@link #parse} accepts, valued and flags. */
    static List<String> acceptedOptions() {
        return java.util.stream.Stream.concat(VALUED.stream(), FLAGS.stream()).toList();
    }

    static Map<String, String> parse(String[] args) {
        Map<String, String> options = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (FLAGS.contains(args[i])) {
                options.put(args[i], "true");
            } else if (VALUED.contains(args[i]) && i + 1 < args.length) {
                options.put(args[i], args[++i]);
            } else {
                throw new IllegalArgumentException("unknown option or missing value: '" + args[i] + "' (options: "
                        + String.join(" ", VALUED) + " " + String.join(" ", FLAGS) + ")");
            }
        }
        return options;
    }

    private static String required(Map<String, String> options, String name) {
        String value = options.get(name);
        if (value == null) {
            throw new IllegalArgumentException(name + " is required");
        }
        return value;
    }

    private static long number(Map<String, String> options, String name, long fallback) {
        String value = options.get(name);
        try {
            return value == null ? fallback : Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be a whole number, got '" + value + "'");
        }
    }
}
