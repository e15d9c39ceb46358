package dev.curvature.transformer.workbench;

/**
 * What {@link TaskSuite} generates; every field goes into the workbench manifest.
 *
 * @param seed               seeds every random choice of the task data (independent of the workbench's seed stream)
 * @param factEntities       invented entities of the closed-book facts; each has one value per relation
 * @param factCopies         k_f: each fact's question–answer line occurs exactly k_f times in train.txt
 * @param openBookTrain      training lines that state a fact of a fresh entity and then ask it (teaches reading the
 *                           answer from the prompt); their entities are disjoint from the closed-book ones
 * @param openBookUnseen     eval samples of the open-book form on entities never in train.txt (pure reading)
 * @param arithmeticTrain    training problems "a+b=c." with 2- or 3-digit operands
 * @param arithmeticEval     held-out problems: neither a+b nor b+a is among the training problems
 */
public record TaskOptions(long seed, int factEntities, int factCopies, int openBookTrain, int openBookUnseen,
                          int arithmeticTrain, int arithmeticEval) {

    public TaskOptions {
        WorkbenchOptions.positive("factEntities", factEntities);
        WorkbenchOptions.positive("factCopies", factCopies);
        WorkbenchOptions.nonNegative("openBookTrain", openBookTrain);
        WorkbenchOptions.nonNegative("openBookUnseen", openBookUnseen);
        WorkbenchOptions.nonNegative("arithmeticTrain", arithmeticTrain);
        WorkbenchOptions.nonNegative("arithmeticEval", arithmeticEval);
        // 10..999 operands give 990² ordered pairs; keep far from exhausting them so the held-out draw terminates fast
        if ((long) arithmeticTrain + 2L * arithmeticEval > 400_000) {
            throw new IllegalArgumentException("arithmeticTrain + 2 x arithmeticEval must be <= 400000, got "
                    + arithmeticTrain + " + 2 x " + arithmeticEval);
        }
    }

    /**
     * 100 entities × 2 relations = 200 facts seen 20 times each; 4000 open-book training lines; 200 unseen open-book
     * probes; 30000 training sums; 300 held-out sums. About 0.8 M characters of task text.
     */
    public static TaskOptions defaults(long seed) {
        return new TaskOptions(seed, 100, 20, 4000, 200, 30_000, 300);
    }
}
