package dev.curvature.transformer.eval;

import dev.curvature.engine.DType;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.transformer.checkpoint.ModelCheckpoints;
import dev.curvature.transformer.model.CausalLm;
import dev.curvature.transformer.model.Model;
import dev.curvature.transformer.tokenizer.ByteTokenizer;
import dev.curvature.transformer.workbench.MemorizationSample;
import dev.curvature.transformer.workbench.MemorizationSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The committed workbench models (models/workbench-gpt2 and models/workbench-olmo2, trained by curvature on the KJV
 * workbench) still recite their canaries and not the never-seen control passages. References: the committed canary
 * and held-out eval sets.
 */
class WorkbenchModelTest {

    static Path modelDirectory(String name) {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null) {
            Path candidate = dir.resolve("models/" + name);
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
            dir = dir.getParent();
        }
        throw new IllegalStateException("models/" + name + " not found above " + Path.of("").toAbsolutePath());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"workbench-gpt2, gpt2, 8", "workbench-olmo2, olmo2, 9"})
    void theCommittedModelRecitesItsCanariesButNotTheControls(String name, String type, int strictCanaries)
            throws Exception {
        Path dir = modelDirectory(name);
        Model loaded = ModelCheckpoints.load(SharedCpuBackend.get(), dir, DType.F32);
        CausalLm model = (CausalLm) loaded;
        try {
            assertEquals(type, model.config().modelType());
            ByteTokenizer bytes = new ByteTokenizer();
            List<RecitationEval.Sample> samples = new ArrayList<>();
            for (String set : new String[]{"canaries", "heldout"}) {
                for (MemorizationSample s : MemorizationSet.read(dir.resolve("eval/" + set + ".jsonl"))) {
                    samples.add(new RecitationEval.Sample(s.id(), set, bytes.encode(s.prompt()), bytes.encode(s.suffix())));
                }
            }
            RecitationEval.Result result = RecitationEval.evaluate(model, samples, 16);
            RecitationEval.Summary canaries = result.bySource().get("canaries");
            RecitationEval.Summary controls = result.bySource().get("heldout");
            System.out.println(name + ": canaries " + canaries + "; controls " + controls);
            assertEquals(9, canaries.samples());
            assertTrue(canaries.strict() >= strictCanaries / 9.0, "canaries recited exactly: " + canaries.strict());
            assertEquals(1.0, canaries.levCopy(), "every canary within 5 % edit distance");
            assertEquals(0.0, controls.strict(), "never-seen passages are not recited");
            assertTrue(controls.averageLevenshtein() > 0.5, "controls: " + controls.averageLevenshtein());
        } finally {
            model.parameters().close();
        }
    }
}
