package dev.curvature.cli;

import dev.curvature.kfac.MemoryPlan;
import picocli.CommandLine.Option;

/**
 * The memory plan's options, as a picocli mixin: the memory a run may use and a dry run. A command builds its
 * {@link MemoryPlan} from config.json and file headers, then calls {@link #check} before it allocates anything.
 */
final class MemoryOptions {
    @Option(names = "--memory-limit", paramLabel = "SIZE",
            description = "Memory the run may use, e.g. 8g, 512m or 1.5GiB (default: $" + MemoryPlan.LIMIT_VARIABLE
                    + " if set, else MemAvailable of /proc/meminfo). The memory plan printed at the start is checked "
                    + "against it before anything is loaded; a plan that needs more is refused.")
    String memoryLimit;

    @Option(names = "--dry-run",
            description = "Print the memory plan and exit without loading anything (only config.json and file "
                    + "headers are read).")
    boolean dryRun;

    /**
     * Prints {@code plan} on stderr; returns true when the command should stop there (--dry-run). A plan that needs
     * more than is available is refused (before any allocation), with {@code advice} on how to shrink it.
     */
    boolean stopAfter(MemoryPlan plan, String advice) {
        MemoryPlan.Available available = MemoryPlan.available(memoryLimit);
        System.err.print(plan.render(available));
        if (dryRun) {
            try {
                plan.requireFits(available, advice);
                System.err.println("dry run: nothing loaded" + (available.known() ? "; the plan fits" : ""));
            } catch (MemoryPlan.InsufficientMemoryException refused) {
                System.err.println("dry run (nothing loaded): " + refused.getMessage());
            }
            return true;
        }
        plan.requireFits(available, advice);
        return false;
    }
}
