package dev.curvature.kfac;

import java.util.Objects;

/**
 * The paper's pairwise product selection (Merullo et al. 2025, §1.1 of ALGORITHMS.md): with λ (p) the
 * eigenvalues of G and μ (q) those of A, both sorted descending, component (i, j) = u_i v_jᵀ has curvature
 * Π_ij = λ_iμ_j, and S is the set of largest-curvature pairs whose mass Σ_S Π reaches ρ·M, M = (Σλ)(Σμ).
 * {@link #keep} returns S (the edit W' = Σ_S C_ij u_i v_jᵀ); {@link #ablate} returns its complement
 * (W' = W − Σ_S C_ij u_i v_jᵀ, the `ablate` mode of the RollingRo11 fork). Keep and ablate at the same ρ
 * partition the p×q pairs.
 *
 * <p><b>Definition, precisely.</b> Order all pairs by Π_ij descending, ties by (i, j) ascending (lower
 * G-eigenvector index first, then lower A-eigenvector index: the order in which the heap enumeration of the
 * reference code pops them when it breaks ties that way). S is the shortest prefix of that order whose mass is
 * ≥ T. Π_ij is the exact real product of the two doubles (not its rounding, so products closer than one ulp are
 * still ordered, and equal only when really equal); masses are exact real sums compared with T exactly.
 * T = ρ·M is the double fl(ρ·fl(fl(Σλ)·fl(Σμ))), sums in index order (so ρ = 0.1 with M = 10 asks for mass 1,
 * not for the 1 + 5.6·10⁻¹⁷ that the double 0.1 times 10 is in real arithmetic). Consequences:
 * <ul>
 *   <li>S is minimal: mass(S) ≥ T, and removing its last (smallest) pair leaves less than T.</li>
 *   <li>ρ = 0 (or M = 0 with ρ &lt; 1) selects nothing. ρ = 1 selects every pair, zero products included, so
 *       {@code keep} at ρ = 1 leaves W exactly as it is. A ρ &lt; 1 whose T the whole grid does not reach (ρ within
 *       about (p+q)·2⁻⁵³ of 1) also selects every pair.</li>
 *   <li>Zero-curvature pairs (λ_i = 0 or μ_j = 0) are never selected for ρ &lt; 1.</li>
 * </ul>
 *
 * <p><b>Ties and representation.</b> Let τ* be the product of the last selected pair. S holds every pair above
 * τ* and the first t pairs equal to τ* in (i, j) order. In row i the pairs equal to τ* are a run of columns
 * right after the pairs above τ* (μ is sorted), so every row of S is a prefix [0, k_i) and k_i is
 * non-increasing: S is a staircase stored as p row lengths ({@link ComponentMask}), with no list of tied pairs.
 * {@link #boundary()} reports τ*, the size of its tie class and how many of the class were taken.
 *
 * <p><b>Cost.</b> Bisection on τ over the product values with an O(p + q) two-pointer sweep per step (see
 * {@code ProductThresholdSearch}): about 2 ln(p·q) steps, O(p + q) memory; |S| (tens of millions for an
 * 11008×4096 layer) is never enumerated.
 *
 * @param mode      which side of S the edit keeps
 * @param rho       the keep-mass fraction ρ ∈ [0, 1]
 * @param kept      the components the edit keeps: S for KEEP, its complement for ABLATE
 * @param keptMass  Σ_{kept} λ_iμ_j, in double (relative error ≤ about (p + q)·2⁻⁵³)
 * @param totalMass M = fl(Σλ)·fl(Σμ), the M of the target
 * @param boundary  τ* and its tie class
 */
public record CurvatureMassSelection(Mode mode, double rho, ComponentMask kept, double keptMass, double totalMass,
                                     Boundary boundary) {

    /** Which side of the top-curvature set S the edit keeps. */
    public enum Mode {
        /** W' = Σ_S C_ij u_i v_jᵀ: keep the high-curvature components (the paper's edit). */
        KEEP,
        /** W' = W − Σ_S C_ij u_i v_jᵀ: remove them. */
        ABLATE
    }

    /**
     * Where S stops.
     *
     * @param product       τ*, the exact product of S's last pair rounded to double (+∞ when S is empty)
     * @param tiedPairs     the pairs whose exact product equals τ* (0 when S is empty)
     * @param tiedSelected  how many of those are in S: the first ones in (i, j) order
     */
    public record Boundary(double product, long tiedPairs, long tiedSelected) {
    }

    public CurvatureMassSelection {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(kept, "kept");
        Objects.requireNonNull(boundary, "boundary");
    }

    /**
     * S itself: the top-curvature pairs holding a ρ fraction of the mass.
     *
     * @param lambda eigenvalues of G (p = d_out), descending, finite, ≥ 0 (not modified)
     * @param mu     eigenvalues of A (q = d_in), descending, finite, ≥ 0 (not modified)
     * @param rho    keep-mass fraction in [0, 1]
     * @throws IllegalArgumentException naming the array and index, or the value of ρ, when the input is not as above
     */
    public static CurvatureMassSelection keep(double[] lambda, double[] mu, double rho) {
        return select(Mode.KEEP, lambda, mu, rho);
    }

    /** The complement of {@link #keep} at the same ρ: every pair except the top-curvature set S. */
    public static CurvatureMassSelection ablate(double[] lambda, double[] mu, double rho) {
        return select(Mode.ABLATE, lambda, mu, rho);
    }

    /** {@link #keep} or {@link #ablate}. */
    public static CurvatureMassSelection select(Mode mode, double[] lambda, double[] mu, double rho) {
        Objects.requireNonNull(mode, "mode");
        DescendingSpectrum.require(DescendingSpectrum.LAMBDA, lambda);
        DescendingSpectrum.require(DescendingSpectrum.MU, mu);
        DescendingSpectrum.requireFraction("rho", rho);
        double total = DescendingSpectrum.sum(lambda) * DescendingSpectrum.sum(mu);
        if (!(total <= Double.MAX_VALUE / 4)) {
            throw new IllegalArgumentException("total curvature mass (Σλ)(Σμ) = " + total
                    + " overflows double; rescale lambda or mu");
        }
        // the search reads the arrays while it runs: copies keep it safe from a caller that changes them
        ProductThresholdSearch.Outcome top = ProductThresholdSearch.select(lambda.clone(), mu.clone(), rho);
        ComponentMask selected = ComponentMask.staircase(mu.length, top.rowLengths());
        Boundary boundary = new Boundary(top.thresholdProduct(), top.tiedPairs(), top.tiedPairsSelected());
        return mode == Mode.KEEP
                ? new CurvatureMassSelection(mode, rho, selected, top.selectedMass(), total, boundary)
                : new CurvatureMassSelection(mode, rho, selected.complement(), top.remainingMass(), total, boundary);
    }

    /** Whether the edit keeps component (i, j) = u_i v_jᵀ. */
    public boolean contains(int i, int j) {
        return kept.contains(i, j);
    }

    /** The number of kept pairs. */
    public long keptPairs() {
        return kept.pairCount();
    }

    /** Kept pairs / (p·q). */
    public double keptPairFraction() {
        return kept.pairFraction();
    }

    /** Distinct G eigenvectors u_i in the kept pairs. */
    public int gEigenvectorsUsed() {
        return kept.gEigenvectorsUsed();
    }

    /** Distinct A eigenvectors v_j in the kept pairs. */
    public int aEigenvectorsUsed() {
        return kept.aEigenvectorsUsed();
    }
}
