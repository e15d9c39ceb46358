package dev.curvature.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The output rule does not over-refuse: outputs beside an input, or sharing a name prefix with it, are accepted,
 * while the same names one level down (inside the input) or the input's parent (containing it) are refused with the
 * relation named.
 */
class OutputPathsTest {

    @Test
    void outputsBesideTheInputsAreAcceptedAndThoseInsideOrAroundRefused(@TempDir Path dir) throws Exception {
        Path model = Files.createDirectories(dir.resolve("model"));
        assertDoesNotThrow(() -> OutputPaths.requireDistinct("--out", dir.resolve("edited"), "--model", model));
        // a name prefix, not a parent: model-2 is beside model
        assertDoesNotThrow(() -> OutputPaths.requireDistinct("--out", dir.resolve("model-2"), "--model", model));

        Path inside = model.resolve("model-2");
        var refusedInside = assertThrows(IllegalArgumentException.class,
                () -> OutputPaths.requireDistinct("--out", inside, "--model", model));
        assertEquals("--out " + inside + " is inside the input --model " + model
                + ": refusing to write over an input (nothing written); choose another --out", refusedInside.getMessage());
        var refusedAround = assertThrows(IllegalArgumentException.class,
                () -> OutputPaths.requireDistinct("--out", dir, "--model", model));
        assertEquals("--out " + dir + " contains the input --model " + model
                + ": refusing to write over an input (nothing written); choose another --out", refusedAround.getMessage());
    }
}
