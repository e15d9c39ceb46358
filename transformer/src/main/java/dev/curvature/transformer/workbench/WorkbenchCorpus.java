package dev.curvature.transformer.workbench;

import java.util.List;

/**
 * A memorization workbench in memory, before it is written: the training text with its insertions, the held-out
 * text, and the three eval sets.
 *
 * @param train      training split, one line per source line, duplicates and canaries inserted between lines
 * @param trainClean the training split before insertions: text the model was trained on that holds no canary and
 *                   each duplicated passage once — the clean held-in text that K-FAC factors are collected on
 * @param heldout    held-out blocks in source order, never in {@code train}
 * @param duplicates one sample per duplicated passage (prompt = its first promptChars characters)
 * @param canaries   one sample per canary
 * @param heldoutControls held-out windows whose prompt occurs nowhere in {@code train}
 */
public record WorkbenchCorpus(String train, String trainClean, String heldout, List<MemorizationSample> duplicates,
                              List<MemorizationSample> canaries, List<MemorizationSample> heldoutControls,
                              Counts counts) {

    public WorkbenchCorpus {
        duplicates = List.copyOf(duplicates);
        canaries = List.copyOf(canaries);
        heldoutControls = List.copyOf(heldoutControls);
    }

    /**
     * Sizes, all in UTF-16 characters ({@code char}s; equal to bytes for ASCII text such as the KJV).
     *
     * @param sourceChars         source text after line-ending normalisation
     * @param sourceLines         its lines
     * @param blocks              blocks the source was cut into for the split
     * @param heldoutBlocks       of which held out
     * @param trainSourceChars    training split before insertions
     * @param trainChars          train.txt
     * @param heldoutChars        heldout.txt
     * @param insertedDuplicateCopies passages × (duplicateCount - 1)
     * @param insertedCanaryCopies    canaries × canaryRepeats
     */
    public record Counts(long sourceChars, int sourceLines, int blocks, int heldoutBlocks, long trainSourceChars,
                         long trainChars, long heldoutChars, int passages, int insertedDuplicateCopies,
                         int canaries, int insertedCanaryCopies, int heldoutControls) {
    }
}
