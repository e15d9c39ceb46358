package dev.curvature.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

/** The output rule does not over-refuse: outputs beside an input, or sharing a name prefix with it, are accepted. */
class OutputPathsTest {

    @Test
    void outputsBesideTheInputsAreAccepted(@TempDir Path dir) throws Exception {
        Path model = Files.createDirectories(dir.resolve("model"));
        OutputPaths.requireDistinct("--out", dir.resolve("edited"), "--model", model);
        OutputPaths.requireDistinct("--out", dir.resolve("model-2"), "--model", model);   // a prefix, not a parent
    }
}
