package dev.curvature.cli;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.DType;
import dev.curvature.engine.Tensor;
import dev.curvature.kfac.CurvatureMassSelection;
import dev.curvature.kfac.EigenbasisStore;
import dev.curvature.kfac.ModelEditor;
import dev.curvature.transformer.checkpoint.Checkpoint;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.llama.LlamaConfig;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.model.ParameterSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * collect → spectrum → edit on a tiny random OLMo-2 stored as two bfloat16 shards. References: the input checkpoint
 * itself (every tensor not edited is bit-identical, the layout and dtype are the same) and ModelEditor run
 * in-process on the same eigenbases, rounded to bfloat16 by the same writer.
 */
class LlamaCommandsTest {
    private static final LlamaConfig CONFIG = LlamaConfig.of("olmo2", 32, 48, 2, 4, 2, 256, 64, false);
    private static final String FIRST_SHARD = "model-00001-of-00002.safetensors";
    private static final String SECOND_SHARD = "model-00002-of-00002.safetensors";
    /** The paper's default for a 2-block model: gate_proj and up_proj of blocks 0-1 (clamped to the model). */
    private static final List<String> EDITED = List.of("model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj",
            "model.layers.1.mlp.gate_proj", "model.layers.1.mlp.up_proj");

    @TempDir
    static Path dir;
    static Path modelDir;
    static Path corpus;
    static Map<String, String> shards;

    @BeforeAll
    static void writeTinyShardedOlmo2() throws Exception {
        modelDir = dir.resolve("olmo2");
        shards = new TreeMap<>();
        for (String name : CONFIG.parameterShapes().keySet()) {
            // the embedding and block 0 in the first shard, the rest in the second
            shards.put(name, name.equals("model.embed_tokens.weight") || name.startsWith("model.layers.0.")
                    ? FIRST_SHARD : SECOND_SHARD);
        }
        Random random = new Random(11);
        try (CpuBackend backend = new CpuBackend(2);
             ParameterSet weights = ParameterSet.allocate(backend, CONFIG, DType.F32);
             Arena host = Arena.ofConfined()) {
            for (Map.Entry<String, Tensor> e : weights.all().entrySet()) {
                Tensor t = e.getValue();
                double[] values = new double[(int) t.size()];
                boolean norm = e.getKey().contains("norm");
                for (int i = 0; i < values.length; i++) {
                    values[i] = norm ? 1 + 0.1 * random.nextGaussian() : 0.2 * random.nextGaussian();
                }
                backend.copy(t, Tensor.of(host, DType.F64, values, t.shape()));
            }
            ModelCheckpoints.save(CONFIG.model(backend, weights), modelDir,
                    new ModelCheckpoints.Layout(DType.BF16, shards), Map.of());
        }
        corpus = dir.resolve("corpus.txt");
        Files.writeString(corpus, "In the beginning God created the heaven and the earth. ".repeat(12)); // 660 bytes
    }

    @Test
    void editOfAShardedBf16Olmo2KeepsItsLayoutAndChangesOnlyTheEditedLayers() throws Exception {
        Path factors = dir.resolve("factors.safetensors");
        CommandRun.Output collected = CommandRun.capture("collect", "--model", modelDir.toString(), "--corpus",
                corpus.toString(), "--out", factors.toString(), "--batch", "4", "--threads", "2");
        assertTrue(collected.stderr().contains("defaults for olmo2 (2 layers): --layers blocks 0-1 gate_proj+up_proj+down_proj, "
                        + "--labels SAMPLED, --time 64 (paper §5.1)"),
                collected.stderr());
        assertTrue(collected.stderr().contains("memory plan (collect: float32, batch 4 × 64, 6 layers)"),
                collected.stderr());
        Path bases = dir.resolve("bases.safetensors");
        CommandRun.capture("spectrum", "--factors", factors.toString(), "--eigenbases", bases.toString());
        Path edited = dir.resolve("edited");
        CommandRun.Output edit = CommandRun.capture("edit", "--model", modelDir.toString(), "--eigenbases",
                bases.toString(), "--out", edited.toString(), "--rho", "0.6", "--threads", "2");
        assertTrue(edit.stderr().contains("defaults for olmo2 (2 layers): blocks 0-1 gate_proj+up_proj, rho 0.6 "
                + "(paper §5.1); override with --layers/--rho"), edit.stderr());

        ModelCheckpoints.Layout layout = ModelCheckpoints.layout(edited);
        assertEquals(DType.BF16, layout.storage());
        assertEquals(shards, layout.shards(), "the same tensors in the same shard files");
        assertTrue(Files.exists(edited.resolve(Checkpoint.INDEX_FILE_NAME)));
        assertFalse(Files.exists(edited.resolve(Checkpoint.SINGLE_FILE_NAME)));
        assertEquals("bfloat16", new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(Files.readString(edited.resolve("config.json"))).get("torch_dtype").asText());

        // the reference: ModelEditor in-process on the same eigenbases, written by the same bf16 writer
        Path reference = dir.resolve("reference");
        try (CpuBackend backend = new CpuBackend(2)) {
            Model model = ModelCheckpoints.load(backend, modelDir, DType.F32);
            try (EigenbasisStore.Loaded loaded = EigenbasisStore.read(backend, bases)) {
                Map<String, Double> rho = new LinkedHashMap<>();
                EDITED.forEach(layer -> rho.put(layer, 0.6));
                ModelEditor.edit(backend, model, loaded, rho, ModelEditor.Rule.mass(CurvatureMassSelection.Mode.KEEP));
                ModelCheckpoints.save(model, reference, new ModelCheckpoints.Layout(DType.BF16, shards), Map.of());
            } finally {
                model.parameters().close();
            }
        }
        try (Checkpoint input = Checkpoint.open(modelDir);
             Checkpoint output = Checkpoint.open(edited);
             Checkpoint expected = Checkpoint.open(reference)) {
            assertEquals(input.names(), output.names());
            for (String name : input.names()) {
                Tensor out = output.tensor(name);
                assertEquals(DType.BF16, out.dtype(), name);
                boolean same = input.tensor(name).segment().mismatch(out.segment()) < 0;
                boolean isEdited = EDITED.contains(name.substring(0, name.length() - ".weight".length()));
                assertEquals(!isEdited, same, name + (isEdited ? " must change" : " must be bit-identical"));
                assertTrue(expected.tensor(name).segment().mismatch(out.segment()) < 0,
                        name + " equals ModelEditor's in-process edit after bf16 rounding");
            }
        }
    }

    @Test
    void editRefusesToWriteIntoTheInputModelDirectory() throws Exception {
        Map<String, Long> before = listing(modelDir);
        for (Path out : new Path[]{modelDir, modelDir.resolve("..").resolve(modelDir.getFileName())}) {
            StringWriter err = new StringWriter();
            int code = CurvatureCommand.commandLine().setErr(new PrintWriter(err)).execute("edit", "--model",
                    modelDir.toString(), "--factors", dir.resolve("absent.safetensors").toString(), "--out",
                    out.toString());
            assertEquals(1, code);
            assertTrue(err.toString().contains("is the input model directory"), err.toString());
            assertTrue(err.toString().contains("nothing written"), err.toString());
        }
        assertEquals(before, listing(modelDir), "no file of the model directory was touched");
    }

    @Test
    void collectDryRunReadsOnlyConfigJson() throws Exception {
        Path configOnly = dir.resolve("config-only");
        Files.createDirectories(configOnly);
        Files.copy(modelDir.resolve("config.json"), configOnly.resolve("config.json"));
        Path out = dir.resolve("dry.safetensors");
        CommandRun.Output dry = CommandRun.capture("collect", "--model", configOnly.toString(), "--corpus",
                corpus.toString(), "--out", out.toString(), "--dry-run", "--memory-limit", "64g");
        assertTrue(dry.stderr().contains("memory plan (collect: float32, batch 8 × 64, 6 layers)"), dry.stderr());
        assertTrue(dry.stderr().contains("of 64.0 GiB available (--memory-limit)"), dry.stderr());
        assertTrue(dry.stderr().contains("dry run: nothing loaded; the plan fits"), dry.stderr());
        assertFalse(Files.exists(out));
    }

    @Test
    void collectRefusesAPlanLargerThanTheMemoryLimitBeforeLoading() {
        Path out = dir.resolve("refused.safetensors");
        StringWriter err = new StringWriter();
        int code = CurvatureCommand.commandLine().setErr(new PrintWriter(err)).execute("collect", "--model",
                modelDir.toString(), "--corpus", corpus.toString(), "--out", out.toString(), "--memory-limit", "100k");
        assertEquals(1, code);
        String message = err.toString();
        assertTrue(message.contains("refusing: the plan needs"), message);
        assertTrue(message.contains("but 100.0 KiB are available (--memory-limit); the largest item is "), message);
        assertTrue(message.contains("use --memory-limit (or CURVATURE_MEMORY_LIMIT) to override"), message);
        assertFalse(Files.exists(out));
    }

    @Test
    void editAndSpectrumDryRunsPrintTheirPlans() throws Exception {
        Path factors = dir.resolve("dry-factors.safetensors");
        CommandRun.capture("collect", "--model", modelDir.toString(), "--corpus", corpus.toString(), "--out",
                factors.toString(), "--max-tokens", "128", "--labels", "GOLD");
        CommandRun.Output spectrum = CommandRun.capture("spectrum", "--factors", factors.toString(), "--dry-run");
        assertTrue(spectrum.stderr().contains("memory plan (spectrum: 6 layers)"), spectrum.stderr());
        Path out = dir.resolve("dry-edit");
        CommandRun.Output edit = CommandRun.capture("edit", "--model", modelDir.toString(), "--factors",
                factors.toString(), "--out", out.toString(), "--dry-run");
        assertTrue(edit.stderr().contains("memory plan (edit: float32, 4 layers)"), edit.stderr());
        assertFalse(Files.exists(out));
    }

    private static Map<String, Long> listing(Path directory) throws Exception {
        Map<String, Long> files = new TreeMap<>();
        try (var stream = Files.list(directory)) {
            for (Path p : stream.toList()) {
                files.put(p.getFileName().toString(), Files.getLastModifiedTime(p).toMillis() ^ Files.size(p));
            }
        }
        return files;
    }
}
