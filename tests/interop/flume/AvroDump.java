// Dump an Avro object container file written by Flume's avro_event serializer
// (file_roll / HDFS sinks), with Avro's own reader from the Flume lib dir:
//
//   java -cp "$(tests/interop/flume/fetch.sh)/*" tests/interop/flume/AvroDump.java FILE [--quiet]
//
// Prints the container metadata (avro.schema, avro.codec, ...), then one line
// per record: {"headers":{...},"body":"<base64>"} (keys sorted), then
// "records: N" and, if the file ends in a torn block (e.g. after
// SIGKILL), "truncated: <exception>" — the records before it are still printed.
// --quiet prints only the metadata and the counts.
import java.io.BufferedInputStream;
import java.io.FileInputStream;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.TreeMap;
import org.apache.avro.file.DataFileStream;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;

public class AvroDump {
  public static void main(String[] args) throws Exception {
    boolean quiet = args.length > 1 && args[1].equals("--quiet");
    long records = 0;
    try (InputStream in = new BufferedInputStream(new FileInputStream(args[0]))) {
      DataFileStream<GenericRecord> s = new DataFileStream<>(in, new GenericDatumReader<>());
      for (String k : s.getMetaKeys()) {
        System.out.println("meta " + k + " = " + new String(s.getMeta(k), StandardCharsets.UTF_8));
      }
      try {
        while (s.hasNext()) {
          GenericRecord r = s.next();
          records++;
          if (!quiet) {
            StringBuilder sb = new StringBuilder("{\"headers\":{");
            Map<String, String> h = new TreeMap<>();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) r.get("headers")).entrySet()) {
              h.put(e.getKey().toString(), e.getValue().toString());
            }
            boolean first = true;
            for (Map.Entry<String, String> e : h.entrySet()) {
              if (!first) sb.append(',');
              first = false;
              sb.append('"').append(e.getKey()).append("\":\"").append(e.getValue()).append('"');
            }
            ByteBuffer b = (ByteBuffer) r.get("body");
            byte[] body = new byte[b.remaining()];
            b.get(body);
            sb.append("},\"body\":\"").append(Base64.getEncoder().encodeToString(body)).append("\"}");
            System.out.println(sb);
          }
        }
      } catch (Exception e) {
        System.out.println("records: " + records);
        System.out.println("truncated: " + e);
        System.exit(3);
      }
    }
    System.out.println("records: " + records);
  }
}
