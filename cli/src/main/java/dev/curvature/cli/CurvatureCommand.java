package dev.curvature.cli;

/** Placeholder entry point until the picocli commands land (same commit series). */
public final class CurvatureCommand {
    private CurvatureCommand() {
    }

    public static void main(String[] args) {
        System.out.println("curvature");
    }
}
