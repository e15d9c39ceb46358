package dev.curvature.kfac;

import dev.curvature.transformer.model.LinearLayer;
import dev.curvature.transformer.model.LinearRole;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Which linear layers to collect, as comma-separated glob patterns over HF layer names: {@code *} matches any run of
 * characters, e.g. {@code h.9.mlp.c_fc,h.10.mlp.*} or {@code model.layers.23.mlp.*}; or, by default, every layer
 * whose role is an MLP projection ({@link LinearRole#isMlp}), whatever the family calls it.
 */
public final class LayerSelection {
    /** What {@link #parse} takes for the default: every MLP projection of every block. */
    public static final String DEFAULT = "mlp";

    private final String text;
    private final List<Pattern> patterns;     // empty: the MLP projections by role

    private LayerSelection(String text, List<Pattern> patterns) {
        this.text = text;
        this.patterns = patterns;
    }

    /** Glob patterns, or {@value #DEFAULT} (or null) for every MLP projection. */
    public static LayerSelection parse(String text) {
        if (text == null || text.equals(DEFAULT)) {
            return new LayerSelection(DEFAULT, List.of());
        }
        List<Pattern> patterns = new ArrayList<>();
        for (String part : text.split(",")) {
            String glob = part.trim();
            if (glob.isEmpty()) {
                throw new IllegalArgumentException("empty layer pattern in '" + text + "'");
            }
            List<String> quoted = new ArrayList<>();
            for (String piece : glob.split("\\*", -1)) {
                quoted.add(Pattern.quote(piece));
            }
            patterns.add(Pattern.compile(String.join(".*", quoted)));
        }
        return new LayerSelection(text, patterns);
    }

    /** Whether the layer is picked: by its name (patterns) or by its role (the default). */
    public boolean matches(LinearLayer layer) {
        if (patterns.isEmpty()) {
            return layer.role().isMlp();
        }
        for (Pattern p : patterns) {
            if (p.matcher(layer.name()).matches()) {
                return true;
            }
        }
        return false;
    }

    /** The names of the layers among {@code layers} this selection picks; none is an error listing what exists. */
    public List<String> select(List<LinearLayer> layers) {
        return pick(layers, layers.stream().map(LinearLayer::name).toList());
    }

    /**
     * The names among {@code available} (e.g. the layers of a factor file) this selection picks, each looked up among
     * the model's {@code layers} for its role; none is an error listing what is available.
     */
    public List<String> select(List<String> available, List<LinearLayer> layers) {
        return pick(known(available, layers), available);
    }

    /** Like {@link #select(List, List)}, but an empty result is returned, not refused. */
    public List<String> filter(List<String> available, List<LinearLayer> layers) {
        return known(available, layers).stream().filter(this::matches).map(LinearLayer::name).toList();
    }

    private static List<LinearLayer> known(List<String> available, List<LinearLayer> layers) {
        Map<String, LinearLayer> byName = new HashMap<>();
        layers.forEach(l -> byName.put(l.name(), l));
        return available.stream().filter(byName::containsKey).map(byName::get).toList();
    }

    private List<String> pick(List<LinearLayer> layers, List<String> available) {
        List<String> picked = layers.stream().filter(this::matches).map(LinearLayer::name).toList();
        if (picked.isEmpty()) {
            throw new IllegalArgumentException("layer pattern '" + text + "' matches none of the model's linear layers ("
                    + String.join(", ", available.subList(0, Math.min(8, available.size())))
                    + (available.size() > 8 ? ", ..." : "") + ")");
        }
        return picked;
    }

    @Override
    public String toString() {
        return text;
    }
}
