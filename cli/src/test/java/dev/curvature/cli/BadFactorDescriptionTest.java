package dev.curvature.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 11: "a factor description with positions 0 or −5, or null layers/model, gives unclear errors". Real factors
 * from collect, their description (the safetensors metadata) changed in one field, the tensors untouched; spectrum on
 * each must end with exit 1 and one line naming the file and the field — through the command line, as a user meets
 * it.
 */
class BadFactorDescriptionTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** {@code factors} with its description's JSON changed by {@code change}, written to {@code out}. */
    static Path withDescription(Path factors, Path out, Consumer<ObjectNode> change) throws Exception {
        byte[] bytes = Files.readAllBytes(factors);
        int headerLength = (int) ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        ObjectNode header = (ObjectNode) JSON.readTree(new String(bytes, 8, headerLength, StandardCharsets.UTF_8));
        ObjectNode metadata = (ObjectNode) header.get("__metadata__");
        String key = metadata.fieldNames().next();
        ObjectNode description = (ObjectNode) JSON.readTree(metadata.get(key).asText());
        change.accept(description);
        metadata.put(key, JSON.writeValueAsString(description));
        byte[] newHeader = JSON.writeValueAsBytes(header);
        ByteBuffer file = ByteBuffer.allocate(8 + newHeader.length + bytes.length - 8 - headerLength)
                .order(ByteOrder.LITTLE_ENDIAN);
        file.putLong(newHeader.length).put(newHeader).put(bytes, 8 + headerLength, bytes.length - 8 - headerLength);
        return Files.write(out, file.array());
    }

    private record Case(String what, String field, Consumer<ObjectNode> change) {
    }

    @Test
    void aDescriptionWithABadFieldIsOneLineNamingTheFileAndTheField(@TempDir Path dir) throws Exception {
        Path model = TinyGpt2.write(dir.resolve("model"));
        Path factors = dir.resolve("f.safetensors");
        CommandRun.stdout("collect", "--model", model.toString(), "--corpus", AtomicOutputTest.corpus(dir).toString(),
                "--out", factors.toString(), "--time", "32");
        List<Case> cases = List.of(
                new Case("positions 0", "positions",
                        d -> ((ObjectNode) d.get("layers").get(0)).put("positions", 0)),
                new Case("positions -5", "positions",
                        d -> ((ObjectNode) d.get("layers").get(0)).put("positions", -5)),
                new Case("layers null", "layers", d -> d.putNull("layers")),
                new Case("model null", "model", d -> d.putNull("model")));
        List<String> wrong = new ArrayList<>();
        int i = 0;
        for (Case c : cases) {
            Path bad = withDescription(factors, dir.resolve("bad-" + i++ + ".safetensors"), c.change());
            CommandFailure failure = CommandFailure.of("spectrum", "--factors", bad.toString(), "--eigenbases",
                    dir.resolve("e-" + i + ".safetensors").toString());
            String line = failure.message();
            if (failure.code() != 1 || !line.startsWith("curvature: ") || !line.contains(bad.toString())
                    || !line.contains(c.field()) || failure.stderr().contains("\tat ")) {
                wrong.add(c.what() + ": exit " + failure.code() + ", " + failure.stderr().strip());
            }
        }
        assertTrue(wrong.isEmpty(), wrong.size() + " of " + cases.size() + " wrong:\n" + String.join("\n", wrong));
    }
}
