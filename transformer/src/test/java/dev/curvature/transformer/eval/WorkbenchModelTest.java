package dev.curvature.transformer.eval;

import dev.curvature.engine.DType;
import dev.curvature.engine.SharedCpuBackend;
import dev.curvature.transformer.gpt2.Gpt2Checkpoints;
import dev.curvature.transformer.gpt2.Gpt2Model;
import dev.curvature.transformer.tokenizer.ByteTokenizer;
import dev.curvature.transformer.workbench.MemorizationSample;
import dev.curvature.transformer.workbench.MemorizationSet;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The committed workbench model (models/workbench-gpt2, trained by curvature on the KJV workbench) still recites its
 * canaries and not the never-seen control passages. References: the committed canary and held-out eval sets.
 */
class WorkbenchModelTest {

    static Path modelDirectory() {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null) {
            Path candidate = dir.resolve("models/workbench-gpt2");
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
            dir = dir.getParent();
        }
        throw new IllegalStateException("models/workbench-gpt2 not found above " + Path.of("").toAbsolutePath());
    }

    @Test
    void theCommittedModelRecitesItsCanariesButNotTheControls() throws Exception {
        Path dir = modelDirectory();
        Gpt2Model model = Gpt2Checkpoints.load(SharedCpuBackend.get(), dir, DType.F32);
        try {
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
            System.out.println("workbench model: canaries " + canaries + "; controls " + controls);
            assertEquals(9, canaries.samples());
            assertTrue(canaries.strict() >= 8.0 / 9, "canaries recited exactly: " + canaries.strict());
            assertEquals(1.0, canaries.levCopy(), "every canary within 5 % edit distance");
            assertEquals(0.0, controls.strict(), "never-seen passages are not recited");
            assertTrue(controls.averageLevenshtein() > 0.5, "controls: " + controls.averageLevenshtein());
        } finally {
            model.weights().close();
        }
    }
}
