package dev.curvature.transformer.workbench;

import java.util.Objects;

/**
 * One memorization probe: give the model {@code prompt}, ask whether it continues with {@code suffix}.
 * {@code id} is unique within its set (e.g. {@code canary-03}).
 */
public record MemorizationSample(String prompt, String suffix, Source source, String id) {

    public MemorizationSample {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(suffix, "suffix");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(id, "id");
    }

    /** prompt followed by suffix: the text as it occurs in the corpus. */
    public String text() {
        return prompt + suffix;
    }

    /** Where a sample comes from; {@link #jsonName()} is the value of the JSON field {@code source}. */
    public enum Source {
        /** A passage of the training text repeated k times. */
        DUPLICATE("duplicate"),
        /** A random string inserted k_c times into the training text. */
        CANARY("canary"),
        /** A window of held-out text, never in the training text: the control. */
        HELDOUT("heldout");

        private final String jsonName;

        Source(String jsonName) {
            this.jsonName = jsonName;
        }

        public String jsonName() {
            return jsonName;
        }

        public static Source ofJsonName(String name) {
            for (Source s : values()) {
                if (s.jsonName.equals(name)) {
                    return s;
                }
            }
            throw new IllegalArgumentException("source \"" + name + "\" is not one of duplicate, canary, heldout");
        }
    }
}
