#!/usr/bin/env bash
# A real Apache Kafka broker for the tests: KRaft, one node (broker+controller), its jars
# fetched from Maven Central by tests/broker/pom.xml and cached in .cache/kafka (git-ignored).
#
#   tests/broker/apache-kafka.sh fetch     # the jars, once; prints their folder
#   tests/broker/apache-kafka.sh run       # format storage (once), then exec the broker in the
#                                          # foreground (what tests/kafka_broker.py runs)
#   tests/broker/apache-kafka.sh start     # the same in the background; prints HOST:PORT
#   tests/broker/apache-kafka.sh stop      # SIGTERM the one `start` began, SIGKILL after 30 s
#   tests/broker/apache-kafka.sh restart   # stop + start; the data stays in $KAFKA_DIR/data
#   tests/broker/apache-kafka.sh status    # running or not, and the bootstrap address
#   tests/broker/apache-kafka.sh wipe      # stop and delete the data (the next start formats)
#
#   KAFKA_BOOTSTRAP_SERVERS=$(tests/broker/apache-kafka.sh start) make test
#
# Environment: KAFKA_VERSION (the pom's kafka.version), KAFKA_CACHE (<repo>/.cache/kafka),
# KAFKA_LIBS (a folder of jars to use instead of Maven, e.g. an unpacked kafka_2.13-X/libs),
# KAFKA_DIR (${TMPDIR:-/tmp}/newsmon-kafka: config, data, server.log), KAFKA_PORT (19092),
# KAFKA_CONTROLLER_PORT (19093), KAFKA_HEAP (-Xmx384m -Xms64m), KAFKA_AUTO_CREATE (false),
# KAFKA_EXTRA_PROPS (more server.properties lines), JAVA (java), MVN (mvn).
# Needs Java 17+ and, to fetch, Maven with Maven Central.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
POM=$HERE/pom.xml
KAFKA_VERSION=${KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")}
CACHE=${KAFKA_CACHE:-$ROOT/.cache/kafka}
LIBS=${KAFKA_LIBS:-$CACHE/libs/$KAFKA_VERSION}
KAFKA_DIR=${KAFKA_DIR:-${TMPDIR:-/tmp}/newsmon-kafka}
PORT=${KAFKA_PORT:-19092}
CPORT=${KAFKA_CONTROLLER_PORT:-19093}
HEAP=${KAFKA_HEAP:--Xmx384m -Xms64m}
AUTO_CREATE=${KAFKA_AUTO_CREATE:-false}
JAVA=${JAVA:-java}
MVN=${MVN:-mvn}
PID_FILE=$KAFKA_DIR/kafka.pid
BOOTSTRAP=127.0.0.1:$PORT
# The JVM for a small test broker: serial GC (2 cores, a small heap), no JMX, headless.
JVM_OPTS=(-XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
  -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties")

log() { echo "apache-kafka: $*" >&2; }

fetched() { compgen -G "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null; }

fetch() {
  if fetched; then echo "$LIBS"; return; fi
  if [ -n "${KAFKA_LIBS:-}" ]; then log "KAFKA_LIBS=$KAFKA_LIBS has no kafka_2.13-$KAFKA_VERSION.jar"; exit 2; fi
  command -v "$MVN" >/dev/null || { log "mvn not found (apt-get install maven), and no KAFKA_LIBS"; exit 2; }
  mkdir -p "$CACHE/libs"
  exec 9>"$CACHE/fetch.lock"
  flock 9  # one fetch at a time; who waited finds the jars there
  if fetched; then echo "$LIBS"; return; fi
  local part=$LIBS.part mvn_log=$CACHE/mvn-$KAFKA_VERSION.log t0=$SECONDS
  rm -rf "$part"
  log "fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION and its runtime jars (mvn log: $mvn_log)"
  if ! "$MVN" -B -f "$POM" -Dkafka.version="$KAFKA_VERSION" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$part" >"$mvn_log" 2>&1; then
    tail -n 30 "$mvn_log" >&2
    log "mvn failed (see $mvn_log); another version: KAFKA_VERSION=4.3.1 $0 fetch"
    exit 2
  fi
  mv "$part" "$LIBS"  # whole or not at all: an interrupted fetch leaves no half set behind
  log "jars: $(du -sm "$LIBS" | cut -f1) MB, $(find "$LIBS" -name '*.jar' | wc -l) files, in $((SECONDS - t0)) s"
  echo "$LIBS"
}

write_config() {
  mkdir -p "$KAFKA_DIR/data"
  cat >"$KAFKA_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=1
auto.create.topics.enable=$AUTO_CREATE
group.initial.rebalance.delay.ms=0
# a loaded test machine can starve the JVM for seconds: the controller must not fence its
# own broker for it (default 9 s), which would leave every partition without a leader
broker.session.timeout.ms=30000
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
log.segment.bytes=16777216
log.cleaner.dedupe.buffer.size=16777216
${KAFKA_EXTRA_PROPS:-}
PROPS
  cat >"$KAFKA_DIR/log4j2.properties" <<L4J
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $KAFKA_DIR/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.state.name = state.change.logger
logger.state.level = WARN
L4J
}

format_storage() {
  [ -f "$KAFKA_DIR/data/meta.properties" ] && return
  local cid
  # a random cluster id as Kafka writes them (base64url of 16 bytes), never starting with "-"
  # (the storage tool would take it for an option)
  cid=$(python3 -c 'import base64,uuid
while (c := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"): pass
print(c)')
  # shellcheck disable=SC2086
  "$JAVA" $HEAP "${JVM_OPTS[@]}" -cp "$LIBS/*" kafka.tools.StorageTool format \
    -t "$cid" -c "$KAFKA_DIR/server.properties" --ignore-formatted >>"$KAFKA_DIR/server.log" 2>&1 \
    || { log "storage format failed: see $KAFKA_DIR/server.log"; exit 3; }
}

run() {  # the broker in the foreground, as this process (exec): its pid is the JVM's
  fetched || fetch >/dev/null
  write_config
  format_storage
  # shellcheck disable=SC2086
  exec "$JAVA" $HEAP "${JVM_OPTS[@]}" -cp "$LIBS/*" kafka.Kafka "$KAFKA_DIR/server.properties"
}

running() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

answers() {  # an ApiVersions request on the PLAINTEXT port gets its answer
  python3 - "$PORT" <<'PY'
import socket, struct, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1); s.settimeout(1)
    body = struct.pack(">hhih", 18, 0, 7, 5) + b"probe"
    s.sendall(struct.pack(">i", len(body)) + body)
    head = s.recv(8); sys.exit(0 if len(head) == 8 and struct.unpack(">ii", head)[1] == 7 else 1)
except OSError:
    sys.exit(1)
PY
}

start() {
  if running; then echo "$BOOTSTRAP"; return; fi
  fetched || fetch >/dev/null
  mkdir -p "$KAFKA_DIR"
  local t0=$SECONDS
  nohup "$0" run >"$KAFKA_DIR/stdout.log" 2>&1 &
  echo $! >"$PID_FILE"
  for _ in $(seq 1 1200); do
    if answers; then log "up in $((SECONDS - t0)) s (pid $(cat "$PID_FILE"))"; echo "$BOOTSTRAP"; return; fi
    running || { tail -n 30 "$KAFKA_DIR/server.log" "$KAFKA_DIR/stdout.log" >&2 || true
                 log "broker exited: see $KAFKA_DIR/server.log"; exit 4; }
    sleep 0.1
  done
  log "broker did not answer within 120 s: see $KAFKA_DIR/server.log"; exit 4
}

stop() {
  running || { rm -f "$PID_FILE"; return; }
  local pid; pid=$(cat "$PID_FILE")
  kill "$pid"
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then log "SIGKILL $pid"; kill -9 "$pid"; fi
  rm -f "$PID_FILE"
}

case "${1:-start}" in
  fetch) fetch ;;
  run) run ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if running; then echo "running $BOOTSTRAP pid $(cat "$PID_FILE")"; else echo "stopped"; exit 1; fi ;;
  wipe) stop; rm -rf "$KAFKA_DIR/data" ;;
  *) echo "usage: $0 fetch|run|start|stop|restart|status|wipe" >&2; exit 64 ;;
esac
