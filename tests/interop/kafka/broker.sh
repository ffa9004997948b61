#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft, combined broker + controller) on loopback
# for interop tests. Jars come from fetch.sh (Maven Central, cached).
#
#   broker.sh start    WORKDIR PORT [CONTROLLER_PORT]  format (first time) + start, wait until ready
#   broker.sh stop     WORKDIR                         SIGTERM, wait for exit (SIGKILL after 30 s)
#   broker.sh kill     WORKDIR                         SIGKILL, wait for exit
#   broker.sh restart  WORKDIR                         stop + start on the same ports and data dir
#   broker.sh status   WORKDIR                         exit 0 if running
#   broker.sh create-topic WORKDIR PORT TOPIC [PARTITIONS]
#   broker.sh produce  WORKDIR PORT TOPIC [ARGS...]    stdin lines -> records; lines are
#                                                      "h1:v1,h2:v2<TAB>key<TAB>value"
#                                                      (ARGS go to ConsoleProducer; a line
#                                                      needs >= 1 header unless ARGS has
#                                                      --property parse.headers=false, then
#                                                      "key<TAB>value")
#   broker.sh consume  WORKDIR PORT TOPIC N [TIMEOUT_MS] [ARGS...]
#                                                      print N records from the beginning as
#                                                      "h1:v1,h2:v2<TAB>key<TAB>value"
#                                                      ("NO_HEADERS" when none; "null" key);
#                                                      exits 1 if fewer than N arrive in time
#
# WORKDIR layout: server.properties, data/ (log.dirs + KRaft metadata),
# logs/server.log (broker log), broker.out (JVM stdout/stderr), broker.pid, ports.
# Env: KAFKA_HEAP (default -Xmx512m -Xms512m), BROKER_START_TIMEOUT (s, default 60).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "broker.sh: $*" >&2; exit 1; }

lib() { "$HERE/fetch.sh"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Below the kernel's ephemeral range: a port there may be the local end of a
# connection in TIME_WAIT, which a listener cannot always bind.
free_port() {
  local p low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  for _ in $(seq 1 50); do
    p=$(( 10000 + RANDOM % (low - 10000) ))
    port_open "$p" || { echo "$p"; return 0; }
  done
  die "no free port found"
}

pid_of() { [[ -f "$1/broker.pid" ]] && cat "$1/broker.pid"; }

# Alive and not a zombie: the daemon is reparented to init, which may reap it
# a second or so after it exits.
alive() {
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n "$st" && "$st" != Z* ]]
}

running() {
  local pid
  pid=$(pid_of "$1") || return 1
  [[ -n "$pid" ]] && alive "$pid"
}

random_cluster_id() {
  # A Kafka Uuid: 16 random bytes, base64url without padding (22 chars).
  # Avoid a leading '-' (Kafka's own generator does too).
  local id
  while :; do
    id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    [[ "$id" != -* ]] && { echo "$id"; return; }
  done
}

write_config() {
  local dir=$1 port=$2 cport=$3
  cat > "$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=true
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# after kill -9 the controller fences the dead incarnation only when its
# session expires (default 9 s): shorten it so restarts are quick
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
log.retention.hours=24
EOF
}

java_broker() {
  local dir=$1; shift
  # shellcheck disable=SC2086
  java ${KAFKA_HEAP:--Xmx512m -Xms512m} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true \
    -Dkafka.logs.dir="$dir/logs" \
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" \
    -cp "$(lib)/*" "$@"
}

java_tool() {
  java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/tools-log4j2.properties" \
    -cp "$(lib)/*" "$@"
}

cmd_start() {
  local dir=${1:?WORKDIR} port=${2:?PORT} cport=${3:-}
  mkdir -p "$dir/logs"
  dir=$(cd "$dir" && pwd)
  if running "$dir"; then
    [[ "$(cut -d' ' -f1 "$dir/ports" 2>/dev/null)" == "$port" ]] \
      || die "already running (pid $(pid_of "$dir")) on another port"
    echo "broker.sh: already running (pid $(pid_of "$dir"))" >&2
    return 0
  fi
  # a broker just killed may hold the port a moment longer
  for _ in $(seq 1 50); do port_open "$port" || break; sleep 0.1; done
  port_open "$port" && die "port $port is already in use"
  [[ -n "$cport" ]] || cport=$(free_port)
  [[ "$cport" != "$port" ]] || die "controller port must differ from PORT"
  lib >/dev/null
  write_config "$dir" "$port" "$cport"
  echo "$port $cport" > "$dir/ports"

  if [[ ! -f "$dir/data/meta.properties" ]]; then
    local cid
    cid=$(random_cluster_id)
    java_broker "$dir" kafka.tools.StorageTool format --ignore-formatted \
      -t "$cid" -c "$dir/server.properties" >> "$dir/broker.out" 2>&1 \
      || { tail -20 "$dir/broker.out" >&2; die "storage format failed"; }
  fi

  local offset=0 t0
  [[ -f "$dir/logs/server.log" ]] && offset=$(stat -c %s "$dir/logs/server.log")
  t0=$(date +%s%N)
  nohup setsid bash -c 'echo $$ > "$1"; shift; exec "$@"' _ "$dir/broker.pid" \
    java ${KAFKA_HEAP:--Xmx512m -Xms512m} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true \
    -Dkafka.logs.dir="$dir/logs" \
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" \
    -cp "$(lib)/*" kafka.Kafka "$dir/server.properties" \
    >> "$dir/broker.out" 2>&1 < /dev/null &
  disown || true

  local deadline=$(( $(date +%s) + ${BROKER_START_TIMEOUT:-60} ))
  until [[ -s "$dir/broker.pid" ]]; do sleep 0.05; done
  while :; do
    running "$dir" || {
      tail -30 "$dir/broker.out" >&2
      # the reason is in the broker's own log, which the caller's temp dir may not outlive
      [[ -f "$dir/logs/server.log" ]] && tail -c "+$((offset + 1))" "$dir/logs/server.log" \
        | grep -E -A8 'ERROR|FATAL|Exception' | head -40 >&2
      die "broker exited during start (see $dir/logs/server.log)"
    }
    if port_open "$port" && [[ -f "$dir/logs/server.log" ]] \
       && tail -c "+$((offset + 1))" "$dir/logs/server.log" | grep -q 'Kafka Server started'; then
      break
    fi
    (( $(date +%s) < deadline )) || { cmd_stop "$dir" || true; die "broker not ready after ${BROKER_START_TIMEOUT:-60}s"; }
    sleep 0.1
  done
  echo "broker.sh: kafka ready on 127.0.0.1:$port (controller $cport, pid $(pid_of "$dir")) in $(( ($(date +%s%N) - t0) / 1000000 )) ms" >&2
}

wait_exit() {
  local pid=$1 secs=$2
  for _ in $(seq 1 $(( secs * 10 ))); do
    alive "$pid" || return 0
    sleep 0.1
  done
  return 1
}

# After the (multi-threaded) JVM's leader thread is gone its sockets may
# linger a moment: wait until neither port accepts.
wait_ports_closed() {
  local dir=$1 port cport
  [[ -f "$dir/ports" ]] || return 0
  read -r port cport < "$dir/ports"
  for _ in $(seq 1 100); do
    port_open "$port" || port_open "$cport" || return 0
    sleep 0.1
  done
  echo "broker.sh: ports $port/$cport still open 10 s after exit" >&2
}

cmd_stop() {
  local dir=${1:?WORKDIR} pid
  running "$dir" || { rm -f "$dir/broker.pid"; return 0; }
  pid=$(pid_of "$dir")
  kill -TERM "$pid"
  if ! wait_exit "$pid" 30; then
    echo "broker.sh: no exit 30 s after SIGTERM, sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait_exit "$pid" 10 || die "pid $pid does not exit"
  fi
  wait_ports_closed "$dir"
  rm -f "$dir/broker.pid"
}

cmd_kill() {
  local dir=${1:?WORKDIR} pid
  running "$dir" || { rm -f "$dir/broker.pid"; return 0; }
  pid=$(pid_of "$dir")
  kill -KILL "$pid"
  wait_exit "$pid" 10 || die "pid $pid does not exit"
  wait_ports_closed "$dir"
  rm -f "$dir/broker.pid"
}

cmd_restart() {
  local dir=${1:?WORKDIR} port cport
  [[ -f "$dir/ports" ]] || die "$dir/ports missing: start it first"
  read -r port cport < "$dir/ports"
  cmd_stop "$dir"
  cmd_start "$dir" "$port" "$cport"
}

cmd_create_topic() {
  local dir=${1:?WORKDIR} port=${2:?PORT} topic=${3:?TOPIC} parts=${4:-1}
  java_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$port" \
    --create --if-not-exists --topic "$topic" --partitions "$parts" --replication-factor 1
}

cmd_produce() {
  local dir=${1:?WORKDIR} port=${2:?PORT} topic=${3:?TOPIC}
  shift 3
  java_tool org.apache.kafka.tools.ConsoleProducer --bootstrap-server "127.0.0.1:$port" \
    --topic "$topic" \
    --property parse.key=true --property parse.headers=true \
    --property key.separator=$'\t' --property headers.delimiter=$'\t' \
    --property headers.separator=, --property headers.key.separator=: \
    "$@"
}

cmd_consume() {
  local dir=${1:?WORKDIR} port=${2:?PORT} topic=${3:?TOPIC} n=${4:?N} timeout=${5:-15000}
  shift 4; [[ $# -gt 0 ]] && shift
  # ConsoleConsumer exits 0 even when --timeout-ms expires before N records
  # arrive; check its "Processed a total of X messages" line instead.
  local errf rc=0 got
  errf=$(mktemp)
  java_tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "127.0.0.1:$port" \
    --topic "$topic" --from-beginning --max-messages "$n" --timeout-ms "$timeout" \
    --property print.key=true --property print.headers=true \
    --property key.separator=$'\t' --property headers.separator=, \
    --property headers.key.separator=: --property headers.deserializer=org.apache.kafka.common.serialization.StringDeserializer \
    "$@" 2>"$errf" || rc=$?
  got=$(sed -n 's/^Processed a total of \([0-9]*\) messages$/\1/p' "$errf" | tail -1)
  if [[ $rc -ne 0 || "${got:-0}" -lt "$n" ]]; then
    cat "$errf" >&2; rm -f "$errf"
    die "consume: got ${got:-0} of $n records from $topic (exit $rc)"
  fi
  rm -f "$errf"
}

sub=${1:-}
[[ $# -gt 0 ]] && shift
case "$sub" in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  kill) cmd_kill "$@" ;;
  restart) cmd_restart "$@" ;;
  status) running "${1:?WORKDIR}" ;;
  create-topic) cmd_create_topic "$@" ;;
  produce) cmd_produce "$@" ;;
  consume) cmd_consume "$@" ;;
  *) sed -n '2,25p' "$0" >&2; exit 2 ;;
esac
