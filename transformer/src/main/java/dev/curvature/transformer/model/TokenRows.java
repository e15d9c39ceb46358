package dev.curvature.transformer.model;

/**
 * Which rows of the linear layers' inputs a curvature estimate counts ({@link Model#countedRows}).
 * A language model's rows are its positions; a vision transformer's are the tokens of its images.
 */
public enum TokenRows {
    /**
     * The rows the loss is read from: positions with a next-token target (language models: the last position of a
     * window and masked positions do not count); the CLS token of each labelled image (vision transformers, the
     * paper's choice for the ViT edit).
     */
    LABELLED,
    /** Every row of a scored sample: every position of a window, every token (CLS and patches) of a labelled image. */
    ALL
}
