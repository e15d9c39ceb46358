package dev.curvature.kfac;

import java.nio.file.Files;
import java.nio.file.Path;

/** The PyTorch-written GPT-2 fixture, which lives with the transformer module's tests. */
final class Fixtures {
    private Fixtures() {
    }

    /** transformer/src/test/resources/gpt2-tiny, found from the module directory Surefire runs in. */
    static Path gpt2Tiny() {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null) {
            Path candidate = dir.resolve("transformer/src/test/resources/gpt2-tiny");
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
            dir = dir.getParent();
        }
        throw new IllegalStateException("cannot find transformer/src/test/resources/gpt2-tiny above "
                + Path.of("").toAbsolutePath());
    }
}
