package dev.curvature.kfac.probe;

import dev.curvature.transformer.model.ParameterSet;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Which parameter tensors a curvature probe differentiates by, as comma-separated globs over their HF names
 * ({@code *} matches any run of characters, e.g. {@code h.0.mlp.*} or {@code model.layers.1.mlp.*.weight}), or
 * every tensor. The selected tensors, in checkpoint order, are one vector θ of {@link #size()} = Σ sizes elements;
 * every other parameter stays fixed.
 *
 * @param patterns the text as given ("all" for every tensor)
 * @param names    the selected tensors' names, in checkpoint order
 * @param size     Σ of their element counts (N, the dimension of the probed space)
 */
public record ParameterSelection(String patterns, List<String> names, long size) {
    /** What {@link #parse} takes for every parameter. */
    public static final String ALL = "all";

    public ParameterSelection {
        names = List.copyOf(names);
        if (names.isEmpty()) {
            throw new IllegalArgumentException("parameter selection '" + patterns + "' is empty");
        }
    }

    /**
     * The named tensors of {@code parameters} (in checkpoint order whatever the order given); {@code label} says where
     * the names came from (e.g. "--layers h.0.mlp.*"). An unknown name is an error naming it.
     */
    public static ParameterSelection ofNames(String label, List<String> names, ParameterSet parameters) {
        java.util.Set<String> wanted = new java.util.HashSet<>(names);
        List<String> picked = new ArrayList<>();
        long size = 0;
        for (String name : parameters.names()) {
            if (wanted.remove(name)) {
                picked.add(name);
                size += parameters.get(name).size();
            }
        }
        if (!wanted.isEmpty()) {
            throw new IllegalArgumentException(label + ": the model has no parameter " + wanted.iterator().next());
        }
        return new ParameterSelection(label, picked, size);
    }

    /**
     * The tensors of {@code parameters} matched by {@code text} (globs, or null / {@value #ALL} for all of them); a
     * pattern that matches nothing is an error naming it and some of the model's tensor names.
     */
    public static ParameterSelection parse(String text, ParameterSet parameters) {
        List<String> all = parameters.names();
        if (text == null || text.equals(ALL)) {
            return new ParameterSelection(ALL, all, parameters.count());
        }
        List<Pattern> globs = new ArrayList<>();
        for (String part : text.split(",")) {
            String glob = part.trim();
            if (glob.isEmpty()) {
                throw new IllegalArgumentException("empty parameter pattern in '" + text + "'");
            }
            List<String> quoted = new ArrayList<>();
            for (String piece : glob.split("\\*", -1)) {
                quoted.add(Pattern.quote(piece));
            }
            Pattern p = Pattern.compile(String.join(".*", quoted));
            if (all.stream().noneMatch(n -> p.matcher(n).matches())) {
                throw new IllegalArgumentException("parameter pattern '" + glob + "' matches none of the model's "
                        + all.size() + " tensors (" + String.join(", ", all.subList(0, Math.min(6, all.size())))
                        + (all.size() > 6 ? ", ..." : "") + ")");
            }
            globs.add(p);
        }
        List<String> picked = new ArrayList<>();
        long size = 0;
        for (String name : all) {
            if (globs.stream().anyMatch(p -> p.matcher(name).matches())) {
                picked.add(name);
                size += parameters.get(name).size();
            }
        }
        return new ParameterSelection(text, picked, size);
    }
}
