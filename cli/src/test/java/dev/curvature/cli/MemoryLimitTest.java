package dev.curvature.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.curvature.kfac.FactorStore;
import dev.curvature.transformer.checkpoint.SafetensorsFile;
import dev.curvature.transformer.checkpoint.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad sizes under a small memory limit (issue 17): each command, in a child JVM with a 64 MB heap (and
 * --memory-limit 1g where it has one), given a config.json or factor description that asks for far more than that
 * (146 GiB of GPT-2 parameters, 100,000 blocks, a width or depth of 2^31 - 1, a factor of dimension 2^30), ends with exit
 * status 1 and exactly one error line naming the file and the field — no stack trace, no OutOfMemoryError, no hang.
 */
class MemoryLimitTest {

    /** The tiny GPT-2's directory with its config.json fields replaced (the weights stay those of 2 × 32). */
    static Path withConfig(Path tiny, Path dir, Map<String, Object> fields) throws Exception {
        Files.createDirectories(dir);
        Files.copy(tiny.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = (ObjectNode) json.readTree(tiny.resolve("config.json").toFile());
        fields.forEach((k, v) -> config.set(k, json.valueToTree(v)));
        Files.writeString(dir.resolve("config.json"), json.writeValueAsString(config));
        return dir;
    }

    @Test
    void everyCommandRefusesABadSizeInOneLineNamingFileAndField(@TempDir Path dir) throws Exception {
        Path tiny = TinyGpt2.write(dir.resolve("tiny"));
        Path corpus = Files.writeString(dir.resolve("c.txt"), "In the beginning God created the heaven. ".repeat(8));
        Path memorized = Files.writeString(dir.resolve("m.jsonl"), "{\"prompt\": \"In the\", \"suffix\": \" beginning\"}\n");
        Path factors = dir.resolve("f.safetensors");
        CommandRun.stdout("collect", "--model", tiny.toString(), "--corpus", corpus.toString(), "--out",
                factors.toString(), "--time", "32");
        Path wide = withConfig(tiny, dir.resolve("wide"), Map.of("n_layer", 48, "n_embd", 8192, "n_head", 64,
                "vocab_size", 50257, "n_positions", 2048, "n_ctx", 2048));
        Path deep = withConfig(tiny, dir.resolve("deep"), Map.of("n_layer", 100000));
        Path overflowing = withConfig(tiny, dir.resolve("overflowing"), Map.of("n_embd", Integer.MAX_VALUE));
        Path overflowingDepth = withConfig(tiny, dir.resolve("overflowing-depth"), Map.of("n_layer",
                Integer.MAX_VALUE));
        Path hugeFactors = dir.resolve("huge-factors.safetensors");
        try (SafetensorsFile st = SafetensorsFile.open(factors)) {
            var tensors = new LinkedHashMap<String, dev.curvature.engine.Tensor>();
            for (String name : st.names()) {
                tensors.put(name, st.tensor(name));
            }
            String description = st.metadata().get(FactorStore.METADATA_KEY).replaceFirst("\"dIn\":32",
                    "\"dIn\":1073741824");
            SafetensorsWriter.write(hugeFactors, tensors, Map.of(FactorStore.METADATA_KEY, description));
        }
        String wideWeights = wide.resolve("model.safetensors") + ": tensor 'wte.weight'";
        record Case(List<String> args, List<String> named) {
        }
        List<Case> cases = List.of(
                new Case(List.of("collect", "--model", wide.toString(), "--corpus", corpus.toString(), "--out",
                        dir.resolve("o1.safetensors").toString(), "--time", "32", "--memory-limit", "1g"),
                        List.of(wideWeights, "n_layer=48", "n_embd=8192")),
                new Case(List.of("edit", "--model", wide.toString(), "--factors", factors.toString(), "--out",
                        dir.resolve("e1").toString(), "--memory-limit", "1g"), List.of(wideWeights, "n_embd=8192")),
                new Case(List.of("bands", "--model", wide.toString(), "--factors", factors.toString(), "--memorized",
                        memorized.toString(), "--clean", corpus.toString()), List.of(wideWeights, "vocab_size=50257")),
                new Case(List.of("probe", "--model", wide.toString(), "--corpus", corpus.toString()),
                        List.of(wideWeights, "n_layer=48")),
                new Case(List.of("collect", "--model", deep.toString(), "--corpus", corpus.toString(), "--out",
                        dir.resolve("o2.safetensors").toString(), "--time", "32", "--memory-limit", "1g"),
                        List.of(deep.resolve("config.json") + ": n_layer 100000")),
                new Case(List.of("probe", "--model", deep.toString(), "--corpus", corpus.toString()),
                        List.of(deep.resolve("config.json") + ": n_layer 100000")),
                new Case(List.of("edit", "--model", overflowing.toString(), "--factors", factors.toString(), "--out",
                        dir.resolve("e2").toString(), "--memory-limit", "1g"),
                        List.of(overflowing.resolve("config.json").toString(), "n_embd")),
                new Case(List.of("edit", "--model", overflowingDepth.toString(), "--factors", factors.toString(),
                        "--out", dir.resolve("e3").toString(), "--memory-limit", "1g"),
                        List.of(overflowingDepth.resolve("config.json").toString(), "n_layer")),
                new Case(List.of("spectrum", "--factors", hugeFactors.toString(), "--memory-limit", "1g"),
                        List.of(hugeFactors + ": tensor 'h.0.mlp.c_fc.A'", "1073741824")));
        List<String> lines = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        for (Case c : cases) {
            // 64 MB of heap, and 3 GiB of address space for everything else (code, metaspace, OpenBLAS, native
            // tensors): an allocation of the bad config's size fails in the child, not on this machine
            ChildProcess child = ChildProcess.runWithAddressSpace(3L << 30, List.of("-Xmx64m",
                    "-XX:ReservedCodeCacheSize=64m", "-XX:CompressedClassSpaceSize=64m", "-XX:TieredStopAtLevel=1",
                    "-XX:+UseSerialGC"), c.args().toArray(String[]::new));
            String what = String.join(" ", c.args()) + ":\n" + child.stderr();
            List<String> errors = child.stderr().lines().filter(l -> l.startsWith("curvature: ")).toList();
            List<String> wrong = new ArrayList<>();
            if (child.code() != 1) {
                wrong.add("exit " + child.code());
            }
            if (errors.size() != 1) {
                wrong.add(errors.size() + " error lines");
            }
            if (child.stderr().lines().anyMatch(l -> l.startsWith("\tat ") || l.contains("Exception in ")
                    || l.contains("OutOfMemoryError"))) {
                wrong.add("a stack trace or OutOfMemoryError");
            }
            for (String expected : c.named()) {
                if (errors.size() != 1 || !errors.get(0).contains(expected)) {
                    wrong.add("'" + expected + "' not named");
                }
            }
            if (!wrong.isEmpty()) {
                failures.add(c.args().get(0) + " " + c.args().get(2).substring(dir.toString().length() + 1) + ": "
                        + String.join(", ", wrong) + " — " + what);
            } else {
                lines.add(c.args().get(0) + " → " + errors.get(0));
            }
        }
        assertTrue(failures.isEmpty(), failures.size() + " of " + cases.size() + " cases wrong:\n"
                + String.join("\n", failures) + "\nright:\n" + String.join("\n", lines));
        lines.forEach(System.out::println);
    }
}
