#!/usr/bin/env bash
# Local Apache Kafka harness for tests and demos: real brokers in KRaft
# combined mode (broker+controller in one JVM), 1 node or 3 nodes (static
# controller quorum of 3), every listener on 127.0.0.1 (the client listener on
# MT_KAFKA_HOST when it is set).
#
#   scripts/kafka.sh start [--nodes 1|3] [--secure]
#                                          start (idempotent) with the mcptrail topics, print bootstrap list
#   scripts/kafka.sh stop                  stop our brokers, remove the state dir
#   scripts/kafka.sh status                nodes, pids, bootstrap list
#   scripts/kafka.sh create-topics         the four mcptrail topics
#   scripts/kafka.sh acls [FILE]           (secure) grant the ACLs of FILE (default scripts/kafka/acls.tsv)
#   scripts/kafka.sh kill-node N           kill -9 node N (failover tests)
#   scripts/kafka.sh restart-node N        start node N again on its storage
#   scripts/kafka.sh bootstrap             print the bootstrap list only
#
# --secure: clients connect only over TLS with SASL/SCRAM-SHA-512 (listener SASL_SSL;
# the brokers' certificate is issued by a CA made for this cluster, SAN 127.0.0.1), the
# KRaft StandardAuthorizer is on with allow.everyone.if.no.acl.found=false, and every
# mcptrail component has its own principal: admin (super user), sidecar, approvals,
# archiver, replay, bot and nobody (no rights at all). The state dir's secure/ holds
# ca.pem and, per principal, clients/NAME.properties (librdkafka key=value lines) and
# clients/NAME.env (MCPTRAIL_KAFKA_PROPERTIES=..., for the mcptrail binaries); passwords
# are random per cluster. The controller listener uses SASL_PLAINTEXT with PLAIN
# (KRaft controllers cannot use SCRAM) and is bound to 127.0.0.1 like everything else.
#
# How it works: the broker jars come from Maven Central through
# scripts/kafka/pom.xml and are cached in
# ${MT_CACHE:-~/.cache/mcptrail}/kafka-<version>/libs. Each node gets a
# directory in the state dir (${MT_KAFKA_STATE:-/tmp/mcptrail-kafka-$UID})
# with its server.properties, data, log file and pid file; the state dir
# also holds `nodes`, `ports` and `bootstrap`. Storage is formatted with
# kafka.tools.StorageTool. Readiness and topic creation use the Java
# AdminClient through scripts/kafka/Admin.java (single-file source launch),
# polling describeCluster until every broker is registered, with a deadline.
# Only PIDs from our pid files are ever signalled, and only after checking
# that the process command line is our broker's.
#
# Environment: MT_KAFKA_STATE, MT_CACHE, MT_KAFKA_VERSION, MT_KAFKA_HOST (client listener
# address, default 127.0.0.1), MT_KAFKA_PORT_BASE (node i uses
# base+2(i-1) for clients and base+2(i-1)+1 for the controller; otherwise
# free ports are picked), MT_KAFKA_HEAP (default -Xms256m -Xmx512m),
# MT_KAFKA_READY_TIMEOUT (seconds, default 90), MT_KAFKA_STOP_TIMEOUT
# (seconds between TERM and KILL on stop, default 10).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$HERE/kafka/pom.xml"
ADMIN_SRC="$HERE/kafka/Admin.java"
LOG4J="$HERE/kafka/log4j2.properties"
# MT_KAFKA_VERSION overrides the POM's version (e.g. 3.9.1 for the SCRAM test: see
# docs/kafka-security.md "librdkafka 2.0.2 and SCRAM on Kafka 4").
VERSION="${MT_KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")}"
CACHE="${MT_CACHE:-$HOME/.cache/mcptrail}/kafka-$VERSION"
LIBS="$CACHE/libs"
STATE="${MT_KAFKA_STATE:-/tmp/mcptrail-kafka-$(id -u)}"
# The address of the client listeners (the controllers stay on 127.0.0.1): another
# local address for clients that cannot reach loopback, e.g. the pods of
# scripts/k8s.sh (its node interface, 10.213.255.1).
HOST="${MT_KAFKA_HOST:-127.0.0.1}"
HEAP="${MT_KAFKA_HEAP:--Xms256m -Xmx512m}"
READY_TIMEOUT="${MT_KAFKA_READY_TIMEOUT:-90}"

TOPICS=(mcptrail.events mcptrail.approval.requests mcptrail.approval.votes mcptrail.approval.decisions
        mcptrail.approval.claims)
SECURE_USERS=(admin sidecar approvals archiver replay bot nobody)
SECURE="$STATE/secure"

die() { echo "kafka.sh: $*" >&2; exit 1; }
log() { echo "kafka.sh: $*" >&2; }

ensure_jars() {
    [ -n "$VERSION" ] || die "cannot read <kafka.version> from $POM"
    if [ -f "$LIBS/.complete" ]; then return 0; fi
    command -v mvn >/dev/null || die "mvn not found; install maven (apt-get install maven)"
    log "fetching Kafka $VERSION jars into $LIBS"
    mkdir -p "$CACHE"
    local tmp="$CACHE/libs.tmp.$$"
    rm -rf "$tmp"
    mvn -q -B -Dstyle.color=never -Dkafka.version="$VERSION" -f "$POM" dependency:copy-dependencies -DoutputDirectory="$tmp" \
        -DincludeScope=runtime >&2 || { rm -rf "$tmp"; die "maven could not resolve $POM"; }
    touch "$tmp/.complete"
    rm -rf "$LIBS"
    mv "$tmp" "$LIBS"
}

java_common() {
    # Shared JVM flags: small heap, fast start, logs to files in the state dir.
    echo "$HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true -Dlog4j2.configurationFile=$LOG4J"
}

admin() {
    # A secure cluster is administered as its super user.
    local cfg=""
    [ -f "$SECURE/admin.java.properties" ] && cfg="$SECURE/admin.java.properties"
    # shellcheck disable=SC2046
    MT_KAFKA_ADMIN_CONFIG="$cfg" java -Xmx256m -XX:TieredStopAtLevel=1 -Dkafka.logs.dir="$STATE" \
        -Dmt.log.name=admin.log -Dlog4j2.configurationFile="$LOG4J" -cp "$LIBS/*" "$ADMIN_SRC" "$@"
}

# Certificates and principals of a --secure cluster (see the header).
make_secure_material() {
    command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"
    local d="$SECURE" u pw props
    mkdir -p "$d/clients" "$d/users"
    chmod 700 "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 7 \
        -subj "/CN=mcptrail test Kafka CA" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null ||
        die "cannot create the test CA"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$d/broker.key" -out "$d/broker.csr" 2>/dev/null || die "cannot create the broker key"
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost%s\nextendedKeyUsage=serverAuth,clientAuth\n' \
        "$([ "$HOST" = 127.0.0.1 ] || echo ",IP:$HOST")" \
        >"$d/broker.ext"
    openssl x509 -req -in "$d/broker.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -days 7 -extfile "$d/broker.ext" -out "$d/broker.pem" 2>/dev/null ||
        die "cannot sign the broker certificate"
    openssl rand -hex 24 >"$d/keystore.password"
    openssl pkcs12 -export -in "$d/broker.pem" -inkey "$d/broker.key" -certfile "$d/ca.pem" \
        -name broker -out "$d/broker.p12" -passout "file:$d/keystore.password" ||
        die "cannot write the broker keystore"
    openssl rand -hex 24 >"$d/controller.password"
    for u in "${SECURE_USERS[@]}"; do
        openssl rand -hex 24 >"$d/users/$u.password"
        pw="$(cat "$d/users/$u.password")"
        props="security.protocol=SASL_SSL,sasl.mechanisms=SCRAM-SHA-512,sasl.username=$u,sasl.password=$pw,ssl.ca.location=$d/ca.pem"
        printf '%s\n' "${props//,/$'\n'}" >"$d/clients/$u.properties"
        printf 'MCPTRAIL_KAFKA_PROPERTIES=%s\n' "$props" >"$d/clients/$u.env"
    done
    {
        echo "security.protocol=SASL_SSL"
        echo "sasl.mechanism=SCRAM-SHA-512"
        echo "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"$(cat "$d/users/admin.password")\";"
        echo "ssl.truststore.type=PEM"
        echo "ssl.truststore.location=$d/ca.pem"
    } >"$d/admin.java.properties"
    chmod 600 "$d"/*.password "$d"/users/* "$d"/clients/* "$d/admin.java.properties" "$d"/*.key
}

# StorageTool format arguments that create every principal's SCRAM credential.
scram_args() {
    local u
    for u in "${SECURE_USERS[@]}"; do
        printf -- '--add-scram\nSCRAM-SHA-512=[name=%s,password=%s]\n' "$u" "$(cat "$SECURE/users/$u.password")"
    done
}

port_in_use() { ss -Htan 2>/dev/null | awk '{print $4}' | grep -q -E "[:.]$1\$"; }

pick_ports() {
    # Fills PORTS with 2*n distinct ports (client, controller per node).
    local n=$1 i p
    PORTS=()
    if [ -n "${MT_KAFKA_PORT_BASE:-}" ]; then
        for ((i = 0; i < 2 * n; i++)); do
            p=$((MT_KAFKA_PORT_BASE + i))
            port_in_use "$p" && die "port $p (MT_KAFKA_PORT_BASE=$MT_KAFKA_PORT_BASE) is in use; pick another base"
            PORTS+=("$p")
        done
        local lo hi
        if read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null &&
           [ "${PORTS[-1]}" -ge "$lo" ] && [ "${PORTS[0]}" -le "$hi" ]; then
            echo "kafka.sh: warning: MT_KAFKA_PORT_BASE=$MT_KAFKA_PORT_BASE overlaps the ephemeral" \
                 "port range $lo-$hi: a client reconnecting to a stopped node can take its port" \
                 "(TCP self-connect) and the node then fails to restart; use a base below $lo" >&2
        fi
        return 0
    fi
    # Below the Linux ephemeral range so outgoing connections do not take them.
    local tries=0
    while [ "${#PORTS[@]}" -lt $((2 * n)) ]; do
        tries=$((tries + 1)); [ $tries -lt 1000 ] || die "no free port found in 20000-32000"
        p=$((20000 + RANDOM % 12000))
        port_in_use "$p" && continue
        [[ " ${PORTS[*]} " == *" $p "* ]] && continue
        PORTS+=("$p")
    done
}

node_dir() { echo "$STATE/node-$1"; }

node_pid() {
    # Prints the pid of node $1 if it is alive and really our broker.
    local f pid
    f="$(node_dir "$1")/pid"
    [ -f "$f" ] || return 1
    pid="$(cat "$f")"
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -F "$(node_dir "$1")/server.properties" || return 1
    echo "$pid"
}

write_config() {
    local n=$1 id=$2 rf=$3 voters=$4 dir client ctrl min_isr
    dir="$(node_dir "$id")"
    client="${PORTS[$((2 * (id - 1)))]}"
    ctrl="${PORTS[$((2 * (id - 1) + 1))]}"
    min_isr=$((rf > 1 ? 2 : 1))
    mkdir -p "$dir/data"
    local listeners
    if [ -d "$SECURE" ]; then
        local kpw cpw apw
        kpw="$(cat "$SECURE/keystore.password")" cpw="$(cat "$SECURE/controller.password")"
        apw="$(cat "$SECURE/users/admin.password")"
        listeners="listeners=SASL_SSL://$HOST:$client,CONTROLLER://127.0.0.1:$ctrl
advertised.listeners=SASL_SSL://$HOST:$client
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"$apw\";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"controller\" password=\"$cpw\" user_controller=\"$cpw\";
ssl.keystore.type=PKCS12
ssl.keystore.location=$SECURE/broker.p12
ssl.keystore.password=$kpw
ssl.truststore.type=PEM
ssl.truststore.location=$SECURE/ca.pem
ssl.endpoint.identification.algorithm=https
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:controller
allow.everyone.if.no.acl.found=false"
    else
        listeners="listeners=PLAINTEXT://$HOST:$client,CONTROLLER://127.0.0.1:$ctrl
advertised.listeners=PLAINTEXT://$HOST:$client
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    fi
    (umask 077 && cat >"$dir/server.properties") <<EOF
# Generated by scripts/kafka.sh for mcptrail tests: node $id of $n.
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
$listeners
log.dirs=$dir/data
num.partitions=3
default.replication.factor=$rf
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$min_isr
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$min_isr
group.initial.rebalance.delay.ms=0
unclean.leader.election.enable=false
# Fast failure detection for failover tests.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
num.network.threads=2
num.io.threads=4
log.retention.hours=24
EOF
}

start_node() {
    local id=$1 dir pid
    dir="$(node_dir "$id")"
    if pid="$(node_pid "$id")"; then log "node $id already running (pid $pid)"; return 0; fi
    # shellcheck disable=SC2046
    setsid java $(java_common) -Dkafka.logs.dir="$dir" -Dmt.log.name=server.log \
        -cp "$LIBS/*" kafka.Kafka "$dir/server.properties" >"$dir/stdout.log" 2>&1 </dev/null &
    echo $! >"$dir/pid"
}

wait_ready() {
    local want=$1 bs
    bs="$(cat "$STATE/bootstrap")"
    if ! admin wait "$bs" "$want" "$((READY_TIMEOUT * 1000))"; then
        for f in "$STATE"/node-*/stdout.log; do
            [ -s "$f" ] && { log "--- $f"; tail -n 20 "$f" >&2; }
        done
        die "cluster at $bs not ready (logs: $STATE/node-*/server.log)"
    fi
}

running_nodes() {
    # Prints how many nodes of the recorded cluster are alive.
    local n=0 i total
    total="$(cat "$STATE/nodes" 2>/dev/null || echo 0)"
    for ((i = 1; i <= total; i++)); do node_pid "$i" >/dev/null && n=$((n + 1)); done
    echo "$n"
}

cmd_status() {
    [ -f "$STATE/nodes" ] || { echo "not running (state dir $STATE)"; return 1; }
    local total i pid
    total="$(cat "$STATE/nodes")"
    echo "state:     $STATE"
    echo "nodes:     $total ($(running_nodes) running)"
    for ((i = 1; i <= total; i++)); do
        if pid="$(node_pid "$i")"; then echo "node $i:    pid $pid  $(sed -n 's/^listeners=//p' "$(node_dir "$i")/server.properties")"
        else echo "node $i:    down"; fi
    done
    echo "bootstrap: $(cat "$STATE/bootstrap")"
}

cmd_start() {
    local n=1 secure=0
    while [ $# -gt 0 ]; do
        case "$1" in
        --nodes) n="${2:-}"; shift 2 || die "--nodes needs a value" ;;
        --nodes=*) n="${1#--nodes=}"; shift ;;
        --secure) secure=1; shift ;;
        *) die "start: unknown option '$1' (use --nodes 1|3, --secure)" ;;
        esac
    done
    [ "$n" = 1 ] || [ "$n" = 3 ] || die "start: --nodes must be 1 or 3, got '$n'"
    command -v java >/dev/null || die "java not found; install openjdk-17-jre-headless"

    if [ -f "$STATE/nodes" ]; then
        local have alive
        have="$(cat "$STATE/nodes")"
        alive="$(running_nodes)"
        if [ "$alive" -gt 0 ]; then
            [ "$have" = "$n" ] || die "a $have-node cluster is already running in $STATE; stop it first"
            local running_secure=0
            [ -d "$SECURE" ] && running_secure=1
            [ "$running_secure" = "$secure" ] ||
                die "the cluster running in $STATE is $([ "$running_secure" = 1 ] && echo secure || echo plaintext); stop it first"
            if [ "$alive" -lt "$have" ]; then
                local i; for ((i = 1; i <= have; i++)); do node_pid "$i" >/dev/null || start_node "$i"; done
            fi
            wait_ready "$n"
            cmd_status >&2
            cat "$STATE/bootstrap"
            return 0
        fi
        log "removing stale state in $STATE"
        rm -rf "$STATE"
    fi

    ensure_jars
    local t0=$SECONDS i voters="" bs="" cid
    mkdir -p "$STATE"
    pick_ports "$n"
    for ((i = 1; i <= n; i++)); do
        voters+="${voters:+,}$i@127.0.0.1:${PORTS[$((2 * (i - 1) + 1))]}"
        bs+="${bs:+,}$HOST:${PORTS[$((2 * (i - 1)))]}"
    done
    local rf=$n
    [ "$secure" = 0 ] || make_secure_material
    for ((i = 1; i <= n; i++)); do write_config "$n" "$i" "$rf" "$voters"; done
    echo "$n" >"$STATE/nodes"
    echo "${PORTS[*]}" >"$STATE/ports"
    echo "$bs" >"$STATE/bootstrap"

    cid="$(java -Xmx128m -Dkafka.logs.dir="$STATE" -Dmt.log.name=storage.log -Dlog4j2.configurationFile="$LOG4J" \
        -cp "$LIBS/*" kafka.tools.StorageTool random-uuid)"
    echo "$cid" >"$STATE/cluster-id"
    local scram=()
    [ "$secure" = 0 ] || mapfile -t scram < <(scram_args)
    for ((i = 1; i <= n; i++)); do
        java -Xmx128m -Dkafka.logs.dir="$STATE" -Dmt.log.name=storage.log -Dlog4j2.configurationFile="$LOG4J" \
            -cp "$LIBS/*" kafka.tools.StorageTool format --config "$(node_dir "$i")/server.properties" \
            --cluster-id "$cid" "${scram[@]}" >>"$STATE/format.log" 2>&1 ||
            { cat "$STATE/format.log" >&2; die "formatting storage of node $i failed"; }
    done
    for ((i = 1; i <= n; i++)); do start_node "$i"; done
    wait_ready "$n"
    cmd_create_topics >&2
    log "$n-node$([ "$secure" = 1 ] && echo " secure (SASL_SSL, SCRAM-SHA-512, ACLs)") cluster ready with the mcptrail topics in $((SECONDS - t0)) s"
    cat "$STATE/bootstrap"
}

stop_pid() {
    # TERM, wait for exit with a deadline, then KILL.
    # The last node of a 3-node quorum cannot finish a controlled shutdown
    # once the others are gone, hence the short default.
    local pid=$1 deadline=$((SECONDS + ${MT_KAFKA_STOP_TIMEOUT:-10}))
    kill -TERM "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null; do
        if [ $SECONDS -ge $deadline ]; then
            log "pid $pid did not stop within ${MT_KAFKA_STOP_TIMEOUT:-10} s; sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
            deadline=$((SECONDS + 10))
            while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
            return 0
        fi
        sleep 0.1 # poll interval while waiting for the process to exit
    done
}

cmd_stop() {
    [ -d "$STATE" ] || { log "nothing to stop (no $STATE)"; return 0; }
    local total i pid pids=()
    total="$(cat "$STATE/nodes" 2>/dev/null || echo 0)"
    # TERM all nodes first so a 3-node quorum shuts down together.
    for ((i = 1; i <= total; i++)); do
        if pid="$(node_pid "$i")"; then kill -TERM "$pid" 2>/dev/null || true; pids+=("$pid"); fi
    done
    for pid in "${pids[@]}"; do stop_pid "$pid"; done
    rm -rf "$STATE"
    log "stopped ${#pids[@]} node(s), removed $STATE"
}

check_node_arg() {
    [ -f "$STATE/nodes" ] || die "not running (no $STATE/nodes)"
    local total; total="$(cat "$STATE/nodes")"
    [[ "${1:-}" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le "$total" ] ||
        die "node number must be 1..$total, got '${1:-}'"
}

cmd_kill_node() {
    check_node_arg "${1:-}"
    local pid deadline=$((SECONDS + 10))
    pid="$(node_pid "$1")" || die "node $1 is not running"
    kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || die "node $1 (pid $pid) survived kill -9"
        sleep 0.05 # poll interval while waiting for the process to exit
    done
    rm -f "$(node_dir "$1")/pid"
    log "killed node $1 (pid $pid)"
}

cmd_restart_node() {
    check_node_arg "${1:-}"
    ensure_jars
    start_node "$1"
    wait_ready "$(cat "$STATE/nodes")"
    log "node $1 back (pid $(node_pid "$1"))"
}

cmd_create_topics() {
    [ -f "$STATE/bootstrap" ] || die "not running (no $STATE/bootstrap); run: $0 start"
    local n rf isr
    n="$(cat "$STATE/nodes")"
    rf=$((n >= 3 ? 3 : 1)); isr=$((n >= 3 ? 2 : 1))
    admin create-topics "$(cat "$STATE/bootstrap")" 3 "$rf" "$isr" 30000 "${TOPICS[@]}"
}

cmd_acls() {
    [ -f "$STATE/bootstrap" ] || die "not running (no $STATE/bootstrap); run: $0 start --secure"
    [ -d "$SECURE" ] || die "the cluster in $STATE is not secure (start it with --secure)"
    local file="${1:-$HERE/kafka/acls.tsv}"
    [ -f "$file" ] || die "no ACL file $file"
    admin acls "$(cat "$STATE/bootstrap")" "$file" 30000
}

case "${1:-}" in
start) shift; cmd_start "$@" ;;
acls) cmd_acls "${2:-}" ;;
stop) cmd_stop ;;
status) cmd_status ;;
bootstrap) [ -f "$STATE/bootstrap" ] || die "not running"; cat "$STATE/bootstrap" ;;
create-topics) cmd_create_topics ;;
kill-node) cmd_kill_node "${2:-}" ;;
restart-node) cmd_restart_node "${2:-}" ;;
*) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
