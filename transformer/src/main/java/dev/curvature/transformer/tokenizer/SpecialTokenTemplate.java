package dev.curvature.transformer.tokenizer;

import java.util.Arrays;

/**
 * The ids a tokenizer.json {@code post_processor} puts around one sequence when special tokens are added: Llama 3's
 * {@code TemplateProcessing} single template {@code <|begin_of_text|> $A} is {@code before = [128000]}, {@code after =
 * []}. Byte-level post-processing changes only offsets, never ids, so it is {@link #NONE}.
 */
record SpecialTokenTemplate(int[] before, int[] after) {
    static final SpecialTokenTemplate NONE = new SpecialTokenTemplate(new int[0], new int[0]);

    SpecialTokenTemplate {
        before = before.clone();
        after = after.clone();
    }

    /** {@code before ++ ids ++ after}. */
    int[] apply(int[] ids) {
        int[] out = new int[before.length + ids.length + after.length];
        System.arraycopy(before, 0, out, 0, before.length);
        System.arraycopy(ids, 0, out, before.length, ids.length);
        System.arraycopy(after, 0, out, before.length + ids.length, after.length);
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SpecialTokenTemplate t && Arrays.equals(before, t.before) && Arrays.equals(after, t.after);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(before) + Arrays.hashCode(after);
    }

    @Override
    public String toString() {
        return "SpecialTokenTemplate" + Arrays.toString(before) + " $A " + Arrays.toString(after);
    }
}
