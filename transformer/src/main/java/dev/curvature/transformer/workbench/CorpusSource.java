package dev.curvature.transformer.workbench;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * Where the workbench's natural text comes from: a UTF-8 text file, the King James Bible printed by Debian's
 * {@code bible-kjv} package, or a string in memory (tests). {@link #read()} returns the text as the builder uses it.
 */
public sealed interface CorpusSource {

    /** The text, as used by {@link WorkbenchBuilder} (line endings are normalised there, not here). */
    String read() throws IOException;

    /** One line for the manifest: what was read. */
    String description();

    /** Any UTF-8 text file; malformed UTF-8 is an error naming the file. */
    record TextFile(Path file) implements CorpusSource {
        @Override
        public String read() throws IOException {
            var decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT);
            try {
                return decoder.decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(file))).toString();
            } catch (CharacterCodingException e) {
                throw new IOException(file + ": not valid UTF-8 (" + e + ")", e);
            }
        }

        @Override
        public String description() {
            return "file " + file;
        }
    }

    /** Text held in memory, e.g. a synthetic corpus in a test; {@code name} goes into the manifest. */
    record Text(String name, String text) implements CorpusSource {
        @Override
        public String read() {
            return text;
        }

        @Override
        public String description() {
            return "text " + name;
        }
    }

    /**
     * The King James Bible from Debian's {@code bible-kjv} package: {@code bible -f <range>} prints one verse
     * per line as {@code "Ge1:1 In the beginning God created the heaven and the earth."}. With
     * {@code keepReferences == false} (the default) the leading reference and its space are stripped, so the text is
     * one verse per line: the 31,102 distinct references would otherwise be ~7 % of the characters, a sequence the
     * model must learn to count rather than language, and a give-away position marker in every prompt.
     */
    record KjvBible(String range, boolean keepReferences) implements CorpusSource {
        /** Genesis 1:1 to Revelation 22:21, references stripped. */
        public static final String WHOLE = "gen1:1-rev22:21";
        private static final Pattern REFERENCE = Pattern.compile("^[1-3]?[A-Za-z]+[0-9]+:[0-9]+ ");

        public static KjvBible whole() {
            return new KjvBible(WHOLE, false);
        }

        @Override
        public String read() throws IOException {
            Path stderr = Files.createTempFile("bible-stderr", ".txt");
            try {
                Process process;
                try {
                    process = new ProcessBuilder("bible", "-f", range)
                            .redirectError(ProcessBuilder.Redirect.to(stderr.toFile())).start();
                } catch (IOException e) {
                    throw new IOException("cannot run the `bible` command (" + e.getMessage() + "); it comes with "
                            + "Debian's bible-kjv package: sudo apt-get install bible-kjv", e);
                }
                process.getOutputStream().close();
                String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                int status = process.waitFor();
                if (status != 0 || out.isBlank()) {
                    throw new IOException("`bible -f " + range + "` exited with status " + status + " and printed "
                            + out.length() + " characters; stderr: " + Files.readString(stderr).strip());
                }
                return keepReferences ? out : stripReferences(out, range);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while reading `bible -f " + range + "`", e);
            } finally {
                Files.deleteIfExists(stderr);
            }
        }

        /** Removes the leading {@code Book<chapter>:<verse> } of every line; a line without one is an error. */
        static String stripReferences(String out, String range) throws IOException {
            StringBuilder text = new StringBuilder(out.length());
            int number = 0;
            for (String line : out.split("\n", -1)) {
                number++;
                if (line.isEmpty()) {
                    continue;
                }
                var matcher = REFERENCE.matcher(line);
                if (!matcher.find()) {
                    throw new IOException("`bible -f " + range + "` line " + number
                            + " does not start with a verse reference like \"Ge1:1 \": " + line);
                }
                text.append(line, matcher.end(), line.length()).append('\n');
            }
            return text.toString();
        }

        @Override
        public String description() {
            return "bible -f " + range + " (Debian bible-kjv), verse references "
                    + (keepReferences ? "kept" : "stripped");
        }
    }
}
