package dev.curvature.spark;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The job's command line: every accepted option is explained by --help, and a wrong one is named. */
class CollectJobOptionsTest {
    @Test
    void helpExplainsEveryOptionTheParserAccepts() {
        for (String option : CollectJob.acceptedOptions()) {
            assertTrue(CollectJob.HELP.contains("  " + option + " "), option + " is accepted but not in --help");
        }
    }

    @Test
    void parsesValuesAndFlagsAndNamesAWrongOption() {
        Map<String, String> options = CollectJob.parse(new String[]{"--model", "m", "--exact", "--seed", "3"});
        assertEquals(Map.of("--model", "m", "--exact", "true", "--seed", "3"), options);
        var error = assertThrows(IllegalArgumentException.class,
                () -> CollectJob.parse(new String[]{"--model", "m", "--sed", "3"}));
        assertTrue(error.getMessage().contains("'--sed'"), error.getMessage());
        var missing = assertThrows(IllegalArgumentException.class, () -> CollectJob.parse(new String[]{"--out"}));
        assertTrue(missing.getMessage().contains("'--out'"), missing.getMessage());
    }
}
