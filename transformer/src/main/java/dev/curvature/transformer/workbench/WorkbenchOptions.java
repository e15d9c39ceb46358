package dev.curvature.transformer.workbench;

/**
 * What {@link WorkbenchBuilder} makes of a source text; every field goes into the manifest.
 *
 * @param seed               seeds every random choice (split, passages, canaries, placements, held-out samples)
 * @param heldoutFraction    fraction of the source's characters held out, in [0, 1)
 * @param heldoutBlockChars  the source is cut into blocks of consecutive whole lines of at least this many characters
 *                           (about one KJV chapter at 4096); whole blocks are held out, so held-out text is unseen
 * @param passages           number of training passages duplicated
 * @param duplicateCount     k: each duplicated passage occurs k times in train.txt (its original place and k - 1
 *                           inserted copies)
 * @param canaries           number of canaries
 * @param canaryRepeats      k_c: each canary occurs exactly k_c times in train.txt
 * @param canaryAlphabet     characters of canary prompts and suffixes, drawn uniformly and independently
 * @param promptChars        characters of every eval prompt (and of a canary's random prompt)
 * @param suffixChars        characters of every eval suffix (and of a canary's random secret)
 * @param heldoutSamples     number of held-out control samples
 */
public record WorkbenchOptions(long seed, double heldoutFraction, int heldoutBlockChars, int passages,
                               int duplicateCount, int canaries, int canaryRepeats, String canaryAlphabet,
                               int promptChars, int suffixChars, int heldoutSamples) {

    /** Lowercase ASCII letters and digits: 36 symbols, log2(36) ≈ 5.17 bits per character. */
    public static final String LOWERCASE_AND_DIGITS = "abcdefghijklmnopqrstuvwxyz0123456789";

    public WorkbenchOptions {
        if (!(heldoutFraction >= 0 && heldoutFraction < 1)) {
            throw new IllegalArgumentException("heldoutFraction must be in [0, 1), got " + heldoutFraction);
        }
        positive("heldoutBlockChars", heldoutBlockChars);
        nonNegative("passages", passages);
        positive("duplicateCount", duplicateCount);
        nonNegative("canaries", canaries);
        positive("canaryRepeats", canaryRepeats);
        positive("promptChars", promptChars);
        positive("suffixChars", suffixChars);
        nonNegative("heldoutSamples", heldoutSamples);
        if (heldoutSamples > 0 && heldoutFraction == 0) {
            throw new IllegalArgumentException("heldoutSamples = " + heldoutSamples
                    + " needs held-out text, but heldoutFraction = 0");
        }
        if (canaryAlphabet == null || canaryAlphabet.length() < 2) {
            throw new IllegalArgumentException("canaryAlphabet must hold at least 2 characters, got "
                    + (canaryAlphabet == null ? "null" : "\"" + canaryAlphabet + "\""));
        }
        for (int i = 0; i < canaryAlphabet.length(); i++) {
            char c = canaryAlphabet.charAt(i);
            if (Character.isSurrogate(c) || Character.isISOControl(c) || canaryAlphabet.indexOf(c) != i) {
                throw new IllegalArgumentException("canaryAlphabet must hold distinct, non-control BMP characters; "
                        + "bad character U+" + String.format("%04X", (int) c) + " at index " + i);
            }
        }
    }

    /**
     * 5 % held out in 4096-character blocks; 32 passages of 64 + 48 characters seen 8 times; 9 canaries
     * (64 random prompt characters + 48 random secret characters, lowercase letters and digits) seen 160 times;
     * 32 held-out controls.
     */
    public static WorkbenchOptions defaults(long seed) {
        return new WorkbenchOptions(seed, 0.05, 4096, 32, 8, 9, 160, LOWERCASE_AND_DIGITS, 64, 48, 32);
    }

    /** promptChars + suffixChars: the length of every eval window, duplicated passage and canary. */
    public int passageChars() {
        return promptChars + suffixChars;
    }

    public WorkbenchOptions withSeed(long seed) {
        return new WorkbenchOptions(seed, heldoutFraction, heldoutBlockChars, passages, duplicateCount, canaries,
                canaryRepeats, canaryAlphabet, promptChars, suffixChars, heldoutSamples);
    }

    public WorkbenchOptions withHeldout(double heldoutFraction, int heldoutBlockChars, int heldoutSamples) {
        return new WorkbenchOptions(seed, heldoutFraction, heldoutBlockChars, passages, duplicateCount, canaries,
                canaryRepeats, canaryAlphabet, promptChars, suffixChars, heldoutSamples);
    }

    public WorkbenchOptions withPassages(int passages, int duplicateCount) {
        return new WorkbenchOptions(seed, heldoutFraction, heldoutBlockChars, passages, duplicateCount, canaries,
                canaryRepeats, canaryAlphabet, promptChars, suffixChars, heldoutSamples);
    }

    public WorkbenchOptions withCanaries(int canaries, int canaryRepeats, String canaryAlphabet) {
        return new WorkbenchOptions(seed, heldoutFraction, heldoutBlockChars, passages, duplicateCount, canaries,
                canaryRepeats, canaryAlphabet, promptChars, suffixChars, heldoutSamples);
    }

    public WorkbenchOptions withLengths(int promptChars, int suffixChars) {
        return new WorkbenchOptions(seed, heldoutFraction, heldoutBlockChars, passages, duplicateCount, canaries,
                canaryRepeats, canaryAlphabet, promptChars, suffixChars, heldoutSamples);
    }

    /** Refuses {@code value} ≤ 0, naming the option (also used by {@link TaskOptions}). */
    static void positive(String name, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be > 0, got " + value);
        }
    }

    /** Refuses {@code value} < 0, naming the option. */
    static void nonNegative(String name, int value) {
        if (value < 0) {
            throw new IllegalArgumentException(name + " must be >= 0, got " + value);
        }
    }
}
