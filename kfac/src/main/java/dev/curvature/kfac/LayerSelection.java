package dev.curvature.kfac;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Which linear layers to collect, as comma-separated glob patterns over HF layer names: {@code *} matches any run of
 * characters, e.g. {@code h.*.mlp.*} (every MLP projection, the default) or {@code h.9.mlp.c_fc,h.10.mlp.*}.
 */
public final class LayerSelection {
    /** Every MLP projection of every block. */
    public static final String DEFAULT = "h.*.mlp.*";

    private final String text;
    private final List<Pattern> patterns;

    private LayerSelection(String text, List<Pattern> patterns) {
        this.text = text;
        this.patterns = patterns;
    }

    public static LayerSelection parse(String text) {
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

    public boolean matches(String layer) {
        for (Pattern p : patterns) {
            if (p.matcher(layer).matches()) {
                return true;
            }
        }
        return false;
    }

    /** The layers among {@code available} this selection picks; none is an error listing what exists. */
    public List<String> select(List<String> available) {
        List<String> picked = available.stream().filter(this::matches).toList();
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
