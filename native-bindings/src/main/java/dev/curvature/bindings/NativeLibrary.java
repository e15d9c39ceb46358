package dev.curvature.bindings;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Finds and opens one shared C library, and makes downcall handles into it.
 *
 * <p>Discovery order: the system property {@link Spec#property()}, then the environment variable
 * {@link Spec#environmentVariable()} (either may name an absolute path or a soname), then each default
 * soname in turn, resolved by the dynamic linker's usual search path. A library that cannot be found is
 * one {@link MissingNativeLibraryException} naming everything tried and the package that provides it.
 */
public final class NativeLibrary {

    /**
     * What a library is called and how to get it.
     *
     * @param displayName         human name, e.g. "OpenBLAS"
     * @param property            system property that overrides the location, e.g. "curvature.openblas"
     * @param environmentVariable environment variable that overrides the location, e.g. "CURVATURE_OPENBLAS"
     * @param sonames             default names tried in order, e.g. "libopenblas.so.0"
     * @param installHint         the command or package that provides it
     */
    public record Spec(String displayName, String property, String environmentVariable,
                       List<String> sonames, String installHint) {
        public Spec {
            Objects.requireNonNull(displayName);
            sonames = List.copyOf(sonames);
        }

        /** The override configured for this library (system property first, then environment), or null. */
        public String configuredOverride() {
            String fromProperty = System.getProperty(property);
            if (fromProperty != null && !fromProperty.isBlank()) {
                return fromProperty.trim();
            }
            String fromEnvironment = System.getenv(environmentVariable);
            return fromEnvironment == null || fromEnvironment.isBlank() ? null : fromEnvironment.trim();
        }
    }

    private final Spec spec;
    private final String openedAs;
    private final SymbolLookup symbols;

    private NativeLibrary(Spec spec, String openedAs, SymbolLookup symbols) {
        this.spec = spec;
        this.openedAs = openedAs;
        this.symbols = symbols;
    }

    /** Opens the library as configured by its property / environment variable, else by its default sonames. */
    public static NativeLibrary open(Spec spec) {
        return open(spec, spec.configuredOverride());
    }

    /**
     * Opens the library from {@code override} (an absolute path or a soname) when non-null, otherwise from the
     * default sonames. The library stays loaded for the life of the JVM (global arena): its handles are shared.
     */
    public static NativeLibrary open(Spec spec, String override) {
        List<String> candidates = override != null ? List.of(override) : spec.sonames();
        List<String> failures = new ArrayList<>();
        for (String candidate : candidates) {
            try {
                SymbolLookup lookup = candidate.contains("/")
                        ? SymbolLookup.libraryLookup(Path.of(candidate), Arena.global())
                        : SymbolLookup.libraryLookup(candidate, Arena.global());
                return new NativeLibrary(spec, candidate, lookup);
            } catch (IllegalArgumentException notLoadable) {
                String why = candidate.contains("/") && !Files.exists(Path.of(candidate))
                        ? "no such file" : "not loadable";
                failures.add(candidate + " (" + why + ")");
            }
        }
        String source = override == null ? "default names"
                : "override from -D" + spec.property() + " / $" + spec.environmentVariable();
        throw new MissingNativeLibraryException(spec.displayName() + " could not be loaded; tried " + source + ": "
                + String.join(", ", failures) + ". Install it with: " + spec.installHint()
                + " (or point -D" + spec.property() + "=<path> or $" + spec.environmentVariable()
                + " at the shared library).");
    }

    /** A downcall handle for {@code symbol}; a missing symbol is a clear error naming library and symbol. */
    public MethodHandle downcall(String symbol, FunctionDescriptor descriptor, Linker.Option... options) {
        var address = symbols.find(symbol).orElseThrow(() -> new MissingNativeLibraryException(
                spec.displayName() + " (" + openedAs + ") has no symbol '" + symbol + "'. Install a complete build with: "
                        + spec.installHint()));
        return Linker.nativeLinker().downcallHandle(address, descriptor, options);
    }

    /** Whether the library exports {@code symbol}. */
    public boolean hasSymbol(String symbol) {
        return symbols.find(symbol).isPresent();
    }

    /** The soname or path the library was opened from. */
    public String openedAs() {
        return openedAs;
    }

    public Spec spec() {
        return spec;
    }
}
