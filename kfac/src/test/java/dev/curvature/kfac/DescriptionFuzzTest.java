package dev.curvature.kfac;

import dev.curvature.engine.CpuBackend;
import dev.curvature.engine.JsonFuzz;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.engine.Tensor;
import dev.curvature.transformer.checkpoint.CheckpointFormatException;
import dev.curvature.transformer.checkpoint.SafetensorsFile;
import dev.curvature.transformer.checkpoint.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Seeded mutation fuzzing ({@link JsonFuzz}) of the JSON descriptions inside factor and eigenbasis files: the
 * tensors stay those of a real collection over the tiny GPT-2, the description is mutated. Each mutant either loads
 * — and then every layer it lists is loaded with the positions it states — or is refused with a
 * {@link CheckpointFormatException} naming the file; the header-only reader the CLI's memory plan uses agrees.
 */
class DescriptionFuzzTest {
    private static final long BOUND = 128L << 20;
    static final CpuBackend backend = SharedCpuBackend.get();

    @TempDir
    Path dir;

    /** Factors of the fixture batch, with a description as collect writes it (collection parameters, seeds). */
    private Path factorFile() throws Exception {
        Path shard = FactorStoreTest.shard(dir.resolve("shard.safetensors"), Fixtures.targets(), "sha256:corpus");
        Path file = dir.resolve("valid.safetensors");
        try (FactorStore.Loaded loaded = FactorStore.read(backend, shard)) {
            FactorStore.Description d = loaded.description();
            FactorStore.write(file, loaded.factors(), new FactorStore.Description(d.version(), d.model(), d.labels(),
                    d.seed(), d.corpus(), d.tokens(), d.layers(), new FactorStore.Collection(12, 2,
                    "F64_EXACT", 0, "F64"), List.of(d.seed())));
        }
        return file;
    }

    private static JsonFuzz.Outcome fuzz(Path valid, String key, long seed, int mutants, Path file,
                                         JsonFuzz.Loader loader) throws Exception {
        try (SafetensorsFile st = SafetensorsFile.open(valid)) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (String name : st.names()) {
                tensors.put(name, st.tensor(name));
            }
            byte[] json = st.metadata().get(key).getBytes(StandardCharsets.UTF_8);
            return JsonFuzz.run(json, seed, mutants, file, (mutant, f) -> SafetensorsWriter.write(f, tensors,
                    Map.of(key, new String(mutant, StandardCharsets.UTF_8))), loader, CheckpointFormatException.class,
                    BOUND);
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void mutatedFactorDescriptionsLoadOrAreRefusedNamingTheFile() throws Exception {
        Path valid = factorFile();
        JsonFuzz.Outcome o = fuzz(valid, FactorStore.METADATA_KEY, 0xFAC7_0125L, 1500, dir.resolve("mutant.safetensors"),
                file -> {
                    try (SafetensorsFile st = SafetensorsFile.open(file)) {
                        FactorStore.readDescription(file, st);
                    }
                    try (FactorStore.Loaded loaded = FactorStore.read(backend, file)) {
                        assertEquals(loaded.description().layers().size(), loaded.factors().size());
                        for (FactorStore.Layer l : loaded.description().layers()) {
                            assertEquals(l.positions(), loaded.factors().get(l.name()).positions(), l.name());
                        }
                    }
                });
        System.out.println("factor description fuzz: " + o);
        assertTrue(o.loaded() > 50 && o.refused() > 500, o.toString());
        assertTrue(o.namedField() > 0.8 * o.replacedAndRefused(), "refusals naming the field: " + o);
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void mutatedEigenbasisHeadersLoadOrAreRefusedNamingTheFile() throws Exception {
        Path factors = factorFile();
        Path valid = dir.resolve("valid-eigenbases.safetensors");
        try (FactorStore.Loaded loaded = FactorStore.read(backend, factors)) {
            List<FactorEigenbasis> bases = new ArrayList<>();
            for (KroneckerFactors f : loaded.factors().values()) {
                bases.add(FactorEigenbasis.of(backend, f));
            }
            EigenbasisStore.write(valid, bases, loaded.description());
            bases.forEach(FactorEigenbasis::close);
        }
        JsonFuzz.Outcome o = fuzz(valid, EigenbasisStore.METADATA_KEY, 0xE16E_0125L, 1000,
                dir.resolve("mutant-eigenbases.safetensors"), file -> {
                    try (EigenbasisStore.Loaded loaded = EigenbasisStore.read(backend, file)) {
                        assertTrue(!loaded.bases().isEmpty());
                    }
                });
        System.out.println("eigenbasis header fuzz: " + o);
        assertTrue(o.loaded() > 50 && o.refused() > 300, o.toString());
    }

    /** The cases of issue 11: positions 0 or -5, null layers or model; each refused naming the field. */
    @Test
    void descriptionsNoCollectionWritesAreRefusedNamingTheField() throws Exception {
        Path valid = factorFile();
        Path file = dir.resolve("bad.safetensors");
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        String[][] cases = {{"/layers/0/positions", "0", "layers[0].positions is 0"},
                {"/layers/1/positions", "-5", "layers[1].positions is -5"},
                {"/layers", "null", "layers names no layer"}, {"/model", "null", "model is missing"},
                {"/layers/0/dIn", "0", "layers[0].dIn is 0"}, {"/seeds", "[1, 2]", "seeds has 2 entries for 1"}};
        try (SafetensorsFile st = SafetensorsFile.open(valid)) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (String name : st.names()) {
                tensors.put(name, st.tensor(name));
            }
            for (String[] c : cases) {
                var root = json.readTree(st.metadata().get(FactorStore.METADATA_KEY));
                var at = com.fasterxml.jackson.core.JsonPointer.compile(c[0]);
                var parent = root.at(at.head());
                var value = json.readTree(c[1]);
                if (parent.isArray()) {
                    ((com.fasterxml.jackson.databind.node.ArrayNode) parent).set(Integer.parseInt(at.last()
                            .getMatchingProperty()), value);
                } else {
                    ((com.fasterxml.jackson.databind.node.ObjectNode) parent).set(at.last().getMatchingProperty(),
                            value);
                }
                SafetensorsWriter.write(file, tensors, Map.of(FactorStore.METADATA_KEY, json.writeValueAsString(root)));
                var e = org.junit.jupiter.api.Assertions.assertThrows(CheckpointFormatException.class,
                        () -> FactorStore.read(backend, file).close(), c[0]);
                assertTrue(e.getMessage().startsWith(file + ": factor description: " + c[2]), e.getMessage());
            }
        }
    }
}
