/* Tiny admin helper for scripts/kafka.sh, run with Java's single-file source
 * launcher (`java -cp 'libs/*' Admin.java ...`) so the Kafka harness needs
 * neither kafka-tools scripts nor the C build.
 *
 *   wait BOOTSTRAP NODES TIMEOUT_MS
 *       asks every address of BOOTSTRAP on its own (describeCluster) until
 *       each reports NODES live brokers, or the deadline passes (exit 1).
 *       Asking each broker itself means a node that was just killed and
 *       restarted is not taken for ready while the controller still lists
 *       its old registration.
 *   create-topics BOOTSTRAP PARTITIONS RF MIN_ISR TIMEOUT_MS NAME...
 *       creates topics; a topic that already exists counts as success.
 *   acls BOOTSTRAP FILE TIMEOUT_MS
 *       grants the ALLOW ACLs of FILE, one per line "PRINCIPAL RESOURCE NAME
 *       OPERATION[,OPERATION...]" (e.g. "User:sidecar topic mcptrail.events
 *       WRITE"), resource topic or group, literal names, any host; '#'
 *       starts a comment. Granting an ACL that exists is a no-op.
 *
 * MT_KAFKA_ADMIN_CONFIG, when set and non-empty, names a Java properties file
 * merged into the client configuration (TLS and SASL of a secure cluster).
 *
 * Exit status 0 on success, 1 on failure, 2 on bad usage; errors go to
 * stderr with the failing input named. */
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.AdminClient;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class Admin {
    private static AdminClient open(String bootstrap, int timeoutMs) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "mcptrail-kafka-sh");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, Math.min(timeoutMs, 5000));
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, Math.max(timeoutMs, 5000));
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 500);
        String extra = System.getenv("MT_KAFKA_ADMIN_CONFIG");
        if (extra != null && !extra.isEmpty()) {
            try (java.io.FileInputStream in = new java.io.FileInputStream(extra)) {
                p.load(in);
            } catch (java.io.IOException e) {
                throw new IllegalArgumentException("MT_KAFKA_ADMIN_CONFIG " + extra + ": " + e.getMessage());
            }
        }
        return AdminClient.create(p);
    }

    private static int waitBrokers(String bootstrap, int want, int timeoutMs) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        for (String addr : bootstrap.split(",")) {
            int left = (int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
            if (waitOne(addr, want, left, deadline) != 0) {
                return 1;
            }
        }
        return 0;
    }

    private static int waitOne(String bootstrap, int want, int timeoutMs, long deadline) throws InterruptedException {
        String last = "no answer yet";
        try (AdminClient admin = open(bootstrap, timeoutMs)) {
            while (System.nanoTime() < deadline) {
                try {
                    Collection<Node> nodes = admin.describeCluster(
                            new DescribeClusterOptions().timeoutMs(2000)).nodes().get(3, TimeUnit.SECONDS);
                    if (nodes.size() >= want) {
                        return 0;
                    }
                    last = nodes.size() + " of " + want + " brokers registered";
                } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                    last = String.valueOf(e.getCause() != null ? e.getCause() : e);
                }
                /* Back-off between metadata polls; the condition is re-checked,
                 * this is not used as synchronisation. */
                Thread.sleep(200);
            }
        }
        System.err.println("kafka admin: " + bootstrap + " not ready within " + timeoutMs + " ms: " + last);
        return 1;
    }

    private static int createTopics(String bootstrap, int partitions, short rf, int minIsr, int timeoutMs,
                                    List<String> names) throws InterruptedException {
        List<NewTopic> topics = new ArrayList<>();
        for (String n : names) {
            topics.add(new NewTopic(n, partitions, rf).configs(
                    Map.of("min.insync.replicas", Integer.toString(minIsr))));
        }
        int rc = 0;
        try (AdminClient admin = open(bootstrap, timeoutMs)) {
            var result = admin.createTopics(topics).values();
            for (String n : names) {
                try {
                    result.get(n).get(timeoutMs, TimeUnit.MILLISECONDS);
                    System.out.println("created " + n + " partitions=" + partitions + " rf=" + rf
                            + " min.insync.replicas=" + minIsr);
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof TopicExistsException) {
                        System.out.println("exists  " + n);
                    } else {
                        System.err.println("kafka admin: creating topic " + n + " failed: " + e.getCause());
                        rc = 1;
                    }
                } catch (java.util.concurrent.TimeoutException e) {
                    System.err.println("kafka admin: creating topic " + n + " timed out after " + timeoutMs + " ms");
                    rc = 1;
                }
            }
        }
        return rc;
    }

    private static int grantAcls(String bootstrap, String file, int timeoutMs) throws Exception {
        List<AclBinding> acls = new ArrayList<>();
        int lineno = 0;
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of(file))) {
            lineno++;
            String t = line.replaceAll("#.*", "").trim();
            if (t.isEmpty()) {
                continue;
            }
            String[] f = t.split("\\s+");
            ResourceType type = f.length == 4 && f[1].equals("topic") ? ResourceType.TOPIC
                    : f.length == 4 && f[1].equals("group") ? ResourceType.GROUP : null;
            if (type == null || !f[0].startsWith("User:")) {
                System.err.println("kafka admin: " + file + ":" + lineno
                        + ": want \"User:NAME topic|group NAME OPERATION[,...]\", got: " + line);
                return 2;
            }
            for (String op : f[3].split(",")) {
                AclOperation o;
                try {
                    o = AclOperation.fromString(op);
                } catch (IllegalArgumentException e) {
                    o = AclOperation.UNKNOWN;
                }
                if (o == AclOperation.UNKNOWN || o == AclOperation.ANY) {
                    System.err.println("kafka admin: " + file + ":" + lineno + ": unknown operation " + op);
                    return 2;
                }
                acls.add(new AclBinding(new ResourcePattern(type, f[2], PatternType.LITERAL),
                        new AccessControlEntry(f[0], "*", o, AclPermissionType.ALLOW)));
            }
        }
        try (AdminClient admin = open(bootstrap, timeoutMs)) {
            admin.createAcls(acls).all().get(timeoutMs, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            System.err.println("kafka admin: granting the ACLs of " + file + " failed: " + e.getCause());
            return 1;
        }
        for (AclBinding b : acls) {
            System.out.println("granted " + b.entry().principal() + " " + b.entry().operation() + " "
                    + b.pattern().resourceType() + " " + b.pattern().name());
        }
        return 0;
    }

    public static void main(String[] args) throws Exception {
        int rc = 2;
        if (args.length == 4 && args[0].equals("wait")) {
            rc = waitBrokers(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3]));
        } else if (args.length >= 7 && args[0].equals("create-topics")) {
            List<String> names = new ArrayList<>();
            for (int i = 6; i < args.length; i++) {
                names.add(args[i]);
            }
            rc = createTopics(args[1], Integer.parseInt(args[2]), Short.parseShort(args[3]),
                    Integer.parseInt(args[4]), Integer.parseInt(args[5]), names);
        } else if (args.length == 4 && args[0].equals("acls")) {
            rc = grantAcls(args[1], args[2], Integer.parseInt(args[3]));
        } else {
            System.err.println("usage: Admin wait BOOTSTRAP NODES TIMEOUT_MS\n"
                    + "       Admin create-topics BOOTSTRAP PARTITIONS RF MIN_ISR TIMEOUT_MS NAME...\n"
                    + "       Admin acls BOOTSTRAP FILE TIMEOUT_MS");
        }
        System.exit(rc);
    }
}
