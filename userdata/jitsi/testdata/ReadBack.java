// Test fixture: reads files the way Jitsi does (java.util.Properties and
// Typesafe Config, the libraries jitsi-videobridge uses) and prints each
// requested value as "<hex key> <hex UTF-8 value>", one per line.
//
// java -cp /usr/share/java/typesafe-config.jar ReadBack.java properties FILE
// java -cp /usr/share/java/typesafe-config.jar ReadBack.java properties-utf8 FILE
// java -cp /usr/share/java/typesafe-config.jar ReadBack.java hocon FILE PATH...
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.util.*;

public class ReadBack {
    public static void main(String[] args) throws Exception {
        String mode = args[0];
        File file = new File(args[1]);
        switch (mode) {
            case "properties": {
                Properties p = new Properties();
                try (InputStream in = new FileInputStream(file)) { p.load(in); } // ISO-8859-1
                for (String k : new TreeSet<>(p.stringPropertyNames())) out(k, p.getProperty(k));
                break;
            }
            case "properties-utf8": {
                Properties p = new Properties();
                try (Reader in = new InputStreamReader(new FileInputStream(file), StandardCharsets.UTF_8)) { p.load(in); }
                for (String k : new TreeSet<>(p.stringPropertyNames())) out(k, p.getProperty(k));
                break;
            }
            case "hocon": {
                Config c = ConfigFactory.parseFile(file).resolve();
                for (int i = 2; i < args.length; i++) {
                    ConfigValue v = c.getValue(args[i]);
                    // Strings as themselves; lists and objects as concise JSON.
                    out(args[i], v.valueType() == ConfigValueType.STRING ? (String) v.unwrapped()
                            : v.render(ConfigRenderOptions.concise()));
                }
                break;
            }
            default:
                throw new IllegalArgumentException("unknown mode " + mode);
        }
    }

    static void out(String k, String v) {
        System.out.println(hex(k) + " " + hex(v));
    }

    static String hex(String s) {
        StringBuilder b = new StringBuilder();
        for (byte x : s.getBytes(StandardCharsets.UTF_8)) b.append(String.format("%02x", x));
        return b.length() == 0 ? "-" : b.toString();
    }
}
