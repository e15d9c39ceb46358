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
 * @param arithmeticTrain    distinct training problems "a+b=c."
 * @param arithmeticEval     held-out problems: neither a+b nor b+a is among the training problems
 * @param operandDigits      3: operands of 2 or 3 digits (10..999, the digit count drawn first); 2: operands 10..99
 *                           only (sums of 2 or 3 digits, 8100 ordered problems in all)
 * @param sumCopies          each training problem's line occurs this many times in train.txt
 */
public record TaskOptions(long seed, int factEntities, int factCopies, int openBookTrain, int openBookUnseen,
                          int arithmeticTrain, int arithmeticEval, int operandDigits, int sumCopies) {

    public TaskOptions {
        WorkbenchOptions.positive("factEntities", factEntities);
        WorkbenchOptions.positive("factCopies", factCopies);
        WorkbenchOptions.nonNegative("openBookTrain", openBookTrain);
        WorkbenchOptions.nonNegative("openBookUnseen", openBookUnseen);
        WorkbenchOptions.nonNegative("arithmeticTrain", arithmeticTrain);
        WorkbenchOptions.nonNegative("arithmeticEval", arithmeticEval);
        WorkbenchOptions.positive("sumCopies", sumCopies);
        if (operandDigits != 2 && operandDigits != 3) {
            throw new IllegalArgumentException("operandDigits must be 2 or 3, got " + operandDigits);
        }
        // 10..999 operands give 990² ordered pairs: stay far from exhausting them so the random draws end fast.
        // 10..99 give 8100, each held-out pair removing at most 2: the draws may take them all (a few 10^4 draws).
        long limit = operandDigits == 3 ? 400_000 : 8_100;
        if ((long) arithmeticTrain + 2L * arithmeticEval > limit) {
            throw new IllegalArgumentException("arithmeticTrain + 2 x arithmeticEval must be <= " + limit + " with "
                    + operandDigits + "-digit operands, got " + arithmeticTrain + " + 2 x " + arithmeticEval);
        }
    }

    /** Before operand digits and sum copies were options: 2- or 3-digit operands, each sum once. */
    public TaskOptions(long seed, int factEntities, int factCopies, int openBookTrain, int openBookUnseen,
                       int arithmeticTrain, int arithmeticEval) {
        this(seed, factEntities, factCopies, openBookTrain, openBookUnseen, arithmeticTrain, arithmeticEval, 3, 1);
    }

    /**
     * 100 entities × 2 relations = 200 facts seen 20 times each; 4000 open-book training lines; 200 unseen open-book
     * probes; 30000 training sums; 300 held-out sums. About 0.8 M characters of task text.
     */
    public static TaskOptions defaults(long seed) {
        return new TaskOptions(seed, 100, 20, 4000, 200, 30_000, 300);
    }
}
