// Cross-language check of mcptrail's Avro wire format with the reference Java
// implementation. Records are exchanged as framed single-object encodings (each
// prefixed by a 4-byte big-endian length, as mcptrail-avro writes them) and
// compared as JSON in mcptrail's mapping (see lib/include/mcptrail/avro.h):
// bytes/fixed as lowercase hex, ["null", T] unions as null or the plain value.
//
//   decode SCHEMA_DIR FRAMED EXPECTED.jsonl   C -> Java: check each header's
//       fingerprint against SchemaNormalization.parsingFingerprint64, decode with
//       BinaryMessageDecoder, compare field by field with the expected lines
//   encode SCHEMA_DIR FULLNAME IN.jsonl OUT   Java -> C: encode each line with
//       BinaryMessageEncoder into a framed file for mcptrail-avro decode
//   compare EXPECTED.jsonl GOT.jsonl          field-by-field comparison
//   ocf SCHEMA_DIR ARCHIVE_DIR IDS_OUT        mcptrail-archiver segments: read every
//       ARCHIVE_DIR/<topic>/<partition>/*.avro with DataFileReader, decode each
//       record's value (single-object) with BinaryMessageDecoder, write
//       "topic<TAB>first field" per record to IDS_OUT
//
// Exit status 0 when everything matches, 1 on any difference or error.
package dev.mcptrail.crosslang;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericFixed;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;

public final class CrossLang {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  private static final List<String> failures = new ArrayList<>();

  public static void main(String[] args) throws Exception {
    if (args.length == 4 && args[0].equals("decode")) {
      decode(loadSchemas(args[1]), args[2], args[3]);
    } else if (args.length == 5 && args[0].equals("encode")) {
      encode(loadSchemas(args[1]), args[2], args[3], args[4]);
    } else if (args.length == 3 && args[0].equals("compare")) {
      List<JsonNode> want = readLines(args[1]), got = readLines(args[2]);
      if (want.size() != got.size())
        failures.add(want.size() + " records expected, got " + got.size());
      for (int i = 0; i < Math.min(want.size(), got.size()); i++)
        compare(want.get(i), got.get(i), "#" + i);
    } else if (args.length == 4 && args[0].equals("ocf")) {
      ocf(loadSchemas(args[1]), args[2], args[3]);
    } else {
      System.err.println("usage: decode SCHEMA_DIR FRAMED EXPECTED.jsonl | "
          + "encode SCHEMA_DIR FULLNAME IN.jsonl OUT | compare EXPECTED.jsonl GOT.jsonl");
      System.exit(2);
    }
    for (String f : failures.subList(0, Math.min(40, failures.size())))
      System.err.println("FAIL " + f);
    System.exit(failures.isEmpty() ? 0 : 1);
  }

  private static void ocf(Map<String, Schema> schemas, String archive, String idsOut)
      throws IOException {
    BinaryMessageDecoder<GenericRecord> decoder = new BinaryMessageDecoder<>(GenericData.get(), null);
    for (Schema s : schemas.values()) decoder.addSchema(s);
    List<Path> segs = new ArrayList<>();
    try (java.util.stream.Stream<Path> w = Files.walk(Path.of(archive), 3)) {
      w.filter(p -> p.toString().endsWith(".avro")).sorted().forEach(segs::add);
    }
    long n = 0;
    try (java.io.PrintWriter out = new java.io.PrintWriter(idsOut, StandardCharsets.UTF_8)) {
      for (Path seg : segs) {
        String topic = seg.getParent().getParent().getFileName().toString();
        try (org.apache.avro.file.DataFileReader<GenericRecord> r =
                 new org.apache.avro.file.DataFileReader<>(seg.toFile(),
                     new org.apache.avro.generic.GenericDatumReader<GenericRecord>())) {
          for (GenericRecord rec : r) {
            ByteBuffer v = (ByteBuffer) rec.get("value");
            byte[] b = new byte[v.remaining()];
            v.get(b);
            GenericRecord inner = decoder.decode(b);
            out.println(topic + "\t" + inner.get(0));
            n++;
          }
        }
      }
    }
    System.out.println("java read " + n + " records from " + segs.size() + " segments");
  }

  /** Every *.avsc, each parsed on its own: the files are self-contained. */
  private static Map<String, Schema> loadSchemas(String dir) throws IOException {
    Map<String, Schema> out = new LinkedHashMap<>();
    File[] files = new File(dir).listFiles((d, n) -> n.endsWith(".avsc"));
    if (files == null || files.length == 0) throw new IOException("no *.avsc in " + dir);
    Arrays.sort(files);
    for (File f : files) {
      Schema s = new Schema.Parser().parse(f);
      out.put(s.getFullName(), s);
    }
    return out;
  }

  private static List<JsonNode> readLines(String path) throws IOException {
    List<JsonNode> out = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of(path), StandardCharsets.UTF_8))
      if (!line.isEmpty()) out.add(JSON.readTree(line));
    return out;
  }

  private static void decode(Map<String, Schema> schemas, String framed, String expected)
      throws IOException {
    Map<Long, Schema> byFp = new HashMap<>();
    BinaryMessageDecoder<GenericRecord> decoder = new BinaryMessageDecoder<>(GenericData.get(), null);
    for (Schema s : schemas.values()) {
      byFp.put(SchemaNormalization.parsingFingerprint64(s), s);
      decoder.addSchema(s);
    }
    List<JsonNode> want = readLines(expected);
    int n = 0;
    try (DataInputStream in = new DataInputStream(new FileInputStream(framed))) {
      for (;; n++) {
        int len;
        try {
          len = in.readInt();
        } catch (EOFException e) {
          break;
        }
        byte[] rec = new byte[len];
        in.readFully(rec);
        if (len < 10 || (rec[0] & 0xff) != 0xC3 || rec[1] != 0x01) {
          failures.add("#" + n + ": not single-object encoding");
          continue;
        }
        long fp = ByteBuffer.wrap(rec, 2, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        Schema s = byFp.get(fp);
        if (s == null) {
          failures.add("#" + n + ": fingerprint " + Long.toHexString(fp)
              + " is not parsingFingerprint64 of any schema");
          continue;
        }
        GenericRecord r = decoder.decode(rec);
        if (n < want.size()) compare(want.get(n), toJson(s, r), s.getName() + "#" + n);
      }
    }
    if (n != want.size()) failures.add(want.size() + " records expected, decoded " + n);
    System.out.println("Java decoded " + n + " C records");
  }

  private static void encode(Map<String, Schema> schemas, String name, String in, String out)
      throws IOException {
    Schema s = schemas.get(name);
    if (s == null) throw new IOException("no schema " + name);
    BinaryMessageEncoder<GenericRecord> encoder = new BinaryMessageEncoder<>(GenericData.get(), s);
    int n = 0;
    try (DataOutputStream o = new DataOutputStream(new FileOutputStream(out))) {
      for (JsonNode line : readLines(in)) {
        ByteBuffer b = encoder.encode((GenericRecord) fromJson(s, line, name));
        o.writeInt(b.remaining());
        o.write(b.array(), b.arrayOffset() + b.position(), b.remaining());
        n++;
      }
    }
    System.out.println("Java encoded " + n + " " + name + " records");
  }

  private static Schema nonNullBranch(Schema union) {
    List<Schema> types = union.getTypes();
    if (types.size() == 2 && types.get(0).getType() == Schema.Type.NULL) return types.get(1);
    if (types.size() == 2 && types.get(1).getType() == Schema.Type.NULL) return types.get(0);
    return null;
  }

  /** mcptrail JSON mapping -> Avro generic value. */
  private static Object fromJson(Schema s, JsonNode v, String path) {
    switch (s.getType()) {
      case NULL: return null;
      case BOOLEAN: return v.booleanValue();
      case INT: return v.intValue();
      case LONG: return v.longValue();
      case FLOAT: return v.floatValue();
      case DOUBLE: return v.doubleValue();
      case STRING: return v.textValue();
      case BYTES: return ByteBuffer.wrap(unhex(v.textValue()));
      case FIXED: return new GenericData.Fixed(s, unhex(v.textValue()));
      case ENUM: return new GenericData.EnumSymbol(s, v.textValue());
      case ARRAY: {
        List<Object> a = new ArrayList<>();
        for (JsonNode x : v) a.add(fromJson(s.getElementType(), x, path + "[]"));
        return a;
      }
      case MAP: {
        Map<String, Object> m = new HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext();) {
          Map.Entry<String, JsonNode> e = it.next();
          m.put(e.getKey(), fromJson(s.getValueType(), e.getValue(), path + "." + e.getKey()));
        }
        return m;
      }
      case RECORD: {
        GenericData.Record r = new GenericData.Record(s);
        for (Schema.Field f : s.getFields()) {
          JsonNode fv = v.get(f.name());
          r.put(f.pos(), fv == null ? GenericData.get().getDefaultValue(f)
                                    : fromJson(f.schema(), fv, path + "." + f.name()));
        }
        return r;
      }
      case UNION: {
        if (v == null || v.isNull()) return null;
        Schema only = nonNullBranch(s);
        if (only != null) return fromJson(only, v, path);
        Map.Entry<String, JsonNode> e = v.fields().next();
        for (Schema b : s.getTypes())
          if (b.getFullName().equals(e.getKey())) return fromJson(b, e.getValue(), path);
        throw new IllegalArgumentException(path + ": no union branch " + e.getKey());
      }
    }
    throw new IllegalArgumentException(path + ": unsupported type " + s.getType());
  }

  /** Avro generic value -> mcptrail JSON mapping. */
  private static JsonNode toJson(Schema s, Object o) {
    switch (s.getType()) {
      case NULL: return NODES.nullNode();
      case BOOLEAN: return NODES.booleanNode((Boolean) o);
      case INT: return NODES.numberNode((Integer) o);
      case LONG: return NODES.numberNode((Long) o);
      case FLOAT: return NODES.numberNode((Float) o);
      case DOUBLE: return NODES.numberNode((Double) o);
      case STRING:
      case ENUM: return NODES.textNode(o.toString());
      case BYTES: {
        ByteBuffer b = ((ByteBuffer) o).duplicate();
        byte[] raw = new byte[b.remaining()];
        b.get(raw);
        return NODES.textNode(hex(raw));
      }
      case FIXED: return NODES.textNode(hex(((GenericFixed) o).bytes()));
      case ARRAY: {
        ArrayNode a = NODES.arrayNode();
        for (Object x : (Collection<?>) o) a.add(toJson(s.getElementType(), x));
        return a;
      }
      case MAP: {
        ObjectNode m = NODES.objectNode();
        for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet())
          m.set(e.getKey().toString(), toJson(s.getValueType(), e.getValue()));
        return m;
      }
      case RECORD: {
        ObjectNode r = NODES.objectNode();
        GenericRecord g = (GenericRecord) o;
        for (Schema.Field f : s.getFields()) r.set(f.name(), toJson(f.schema(), g.get(f.pos())));
        return r;
      }
      case UNION: {
        Schema b = s.getTypes().get(GenericData.get().resolveUnion(s, o));
        if (b.getType() == Schema.Type.NULL) return NODES.nullNode();
        if (nonNullBranch(s) != null) return toJson(b, o);
        ObjectNode w = NODES.objectNode();
        w.set(b.getFullName(), toJson(b, o));
        return w;
      }
    }
    throw new IllegalArgumentException("unsupported type " + s.getType());
  }

  /** Field-by-field comparison; integers by exact value, reals numerically. */
  private static void compare(JsonNode want, JsonNode got, String path) {
    if (want.isObject() && got.isObject()) {
      TreeSet<String> keys = new TreeSet<>();
      want.fieldNames().forEachRemaining(keys::add);
      got.fieldNames().forEachRemaining(keys::add);
      for (String k : keys) {
        if (!got.has(k)) failures.add(path + "." + k + ": missing");
        else if (!want.has(k)) failures.add(path + "." + k + ": unexpected");
        else compare(want.get(k), got.get(k), path + "." + k);
      }
    } else if (want.isArray() && got.isArray()) {
      if (want.size() != got.size())
        failures.add(path + ": " + want.size() + " items expected, got " + got.size());
      for (int i = 0; i < Math.min(want.size(), got.size()); i++)
        compare(want.get(i), got.get(i), path + "[" + i + "]");
    } else if (want.isIntegralNumber() && got.isIntegralNumber()) {
      BigInteger a = want.bigIntegerValue(), b = got.bigIntegerValue();
      if (!a.equals(b)) failures.add(path + ": expected " + a + ", got " + b);
    } else if (want.isNumber() && got.isNumber()) {
      if (want.doubleValue() != got.doubleValue())
        failures.add(path + ": expected " + want + ", got " + got);
    } else if (!want.equals(got)) {
      failures.add(path + ": expected " + want + ", got " + got);
    }
  }

  private static String hex(byte[] b) {
    StringBuilder sb = new StringBuilder(b.length * 2);
    for (byte x : b) sb.append(Character.forDigit((x >> 4) & 0xf, 16)).append(Character.forDigit(x & 0xf, 16));
    return sb.toString();
  }

  private static byte[] unhex(String s) {
    byte[] out = new byte[s.length() / 2];
    for (int i = 0; i < out.length; i++)
      out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
    return out;
  }
}
