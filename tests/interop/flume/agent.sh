#!/usr/bin/env bash
# Run a real Apache Flume agent (jars from fetch.sh) in the background.
#
#   agent.sh start NAME CONF_FILE WORKDIR [HEAP]
#       Starts `org.apache.flume.node.Application -n NAME -f CONF_FILE`
#       (HEAP: -Xmx value, default 512m), logs to WORKDIR/flume.log (log4j2,
#       nothing on the console; JVM stdout/stderr go to WORKDIR/flume.out),
#       PID to WORKDIR/flume.pid. Waits (timeout $FLUME_START_TIMEOUT, 60 s)
#       until every `<NAME>.sources.*.port` in CONF_FILE accepts TCP
#       connections, plus the ports in $FLUME_WAIT_PORTS (space-separated) and
#       $FLUME_MONITORING_PORT if set; a config without listening sources
#       (e.g. TAILDIR) is ready when the log says all its sources started.
#       On failure prints the log tail, kills the agent, exits 1.
#   agent.sh stop WORKDIR   SIGTERM, wait up to $FLUME_STOP_TIMEOUT (30 s)
#                           for a clean exit (then SIGKILL and exit 1).
#   agent.sh kill WORKDIR   SIGKILL, wait until gone ($FLUME_KILL_TIMEOUT, 60 s).
#   agent.sh rss WORKDIR    print the agent's peak RSS (VmHWM) in kB.
#   agent.sh lib            print the lib dir (runs fetch.sh if needed).
#
# env: JAVA (default java), FLUME_JAVA_OPTS (extra JVM flags),
#      FLUME_ADD_OPENS=0 (leave out the JDK 17 --add-opens flags),
#      FLUME_MONITORING_PORT (enables Flume's HTTP JSON metrics on
#      127.0.0.1:PORT/metrics), SLUICE_INTEROP_CACHE (see fetch.sh).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
JAVA=${JAVA:-java}

die() { echo "agent.sh: $*" >&2; exit 1; }

# JDK 17: Flume 1.11 / Avro IPC / Netty / the file channel still reach into
# JDK internals; these opens keep them from failing or warning.
JAVA_17_OPENS=(
  --add-opens=java.base/java.lang=ALL-UNNAMED
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/java.util=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens=java.base/jdk.internal.misc=ALL-UNNAMED
  --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED
)

alive() { # pid -> 0 if running and not a zombie
  local st
  [[ -r /proc/$1/stat ]] || return 1
  st=$(sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f1)
  [[ $st != Z && $st != X ]]
}

gone() { # pid -> 0 once no thread of it runs any more
  # After SIGKILL the main thread turns zombie first, while the JVM's other
  # threads are still exiting and the listening socket is still open: waiting
  # for "not alive" alone let a restart find its port taken.
  local t st
  for t in /proc/"$1"/task/*; do
    [[ -r $t/stat ]] || continue
    st=$(sed 's/^.*) //' "$t/stat" | cut -d' ' -f1)
    [[ $st == Z || $st == X ]] || return 1
  done
  return 0
}

pid_of() {
  [[ -f $1/flume.pid ]] || die "no $1/flume.pid"
  cat "$1/flume.pid"
}

tail_log() {
  local w=$1
  echo "---- tail $w/flume.log ----" >&2
  tail -n 40 "$w/flume.log" 2>/dev/null >&2 || true
  if [[ -s $w/flume.out ]]; then
    echo "---- tail $w/flume.out ----" >&2
    tail -n 20 "$w/flume.out" >&2
  fi
}

port_open() { # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

write_log4j2() {
  cat >"$1/log4j2.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn" shutdownHook="disable">
  <Appenders>
    <File name="file" fileName="$1/flume.log" append="true" immediateFlush="true">
      <PatternLayout pattern="%d{ISO8601} %-5p [%t] %c{1.}: %m%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="org.apache.flume" level="\${sys:flume.log.level:-INFO}"/>
    <Logger name="org.eclipse.jetty" level="WARN"/>
    <Logger name="org.apache.avro.ipc" level="WARN"/>
    <Logger name="io.netty" level="WARN"/>
    <Root level="INFO"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
XML
}

# Listening sources of agent NAME in CONF: lines "host port".
source_endpoints() {
  local name=$1 conf=$2
  awk -v n="$name" '
    { sub(/\r$/, "") }
    /^[ \t]*#/ { next }
    {
      line = $0; eq = index(line, "="); if (!eq) next
      k = substr(line, 1, eq - 1); v = substr(line, eq + 1)
      gsub(/^[ \t]+|[ \t]+$/, "", k); gsub(/^[ \t]+|[ \t]+$/, "", v)
      pre = n ".sources."
      if (substr(k, 1, length(pre)) != pre) next
      rest = substr(k, length(pre) + 1)
      dot = index(rest, "."); if (!dot) next
      src = substr(rest, 1, dot - 1); prop = substr(rest, dot + 1)
      if (prop == "port") port[src] = v
      else if (prop == "bind") bind[src] = v
    }
    END {
      for (s in port) {
        h = (s in bind) ? bind[s] : "127.0.0.1"
        if (h == "0.0.0.0" || h == "" ) h = "127.0.0.1"
        print h, port[s]
      }
    }' "$conf"
}

# Names of the sources declared by agent NAME (the "<NAME>.sources = a b" line).
source_names() {
  awk -v n="$1" '
    { sub(/\r$/, "") }
    /^[ \t]*#/ { next }
    { eq = index($0, "="); if (!eq) next
      k = substr($0, 1, eq - 1); gsub(/[ \t]/, "", k)
      if (k == n ".sources") print substr($0, eq + 1) }' "$2" | tr -s ' \t' '\n' | sed '/^$/d'
}

cmd_start() {
  [[ $# -ge 3 ]] || die "usage: agent.sh start NAME CONF_FILE WORKDIR [HEAP]"
  local name=$1 conf=$2 work=$3 heap=${4:-512m}
  [[ -f $conf ]] || die "no config file $conf"
  mkdir -p "$work"
  work=$(cd "$work" && pwd)
  conf=$(cd "$(dirname "$conf")" && pwd)/$(basename "$conf")
  if [[ -f $work/flume.pid ]] && alive "$(cat "$work/flume.pid")"; then
    die "an agent is already running from $work (pid $(cat "$work/flume.pid"))"
  fi
  local lib
  lib=$("$HERE/fetch.sh") || die "fetch.sh failed"
  write_log4j2 "$work"
  : >"$work/flume.log"

  local -a opts=("-Xmx$heap")
  if [[ ${FLUME_ADD_OPENS:-1} == 1 ]]; then opts+=("${JAVA_17_OPENS[@]}"); fi
  opts+=("-Dlog4j.configurationFile=$work/log4j2.xml"
    "-Dlog4j2.shutdownHookEnabled=false"
    "-Djava.net.preferIPv4Stack=true")
  local -a wait_ports=()
  if [[ -n ${FLUME_MONITORING_PORT:-} ]]; then
    opts+=("-Dflume.monitoring.type=http" "-Dflume.monitoring.port=$FLUME_MONITORING_PORT")
    wait_ports+=("127.0.0.1 $FLUME_MONITORING_PORT")
  fi
  # shellcheck disable=SC2206
  if [[ -n ${FLUME_JAVA_OPTS:-} ]]; then opts+=($FLUME_JAVA_OPTS); fi
  local p
  for p in ${FLUME_WAIT_PORTS:-}; do wait_ports+=("127.0.0.1 $p"); done
  local ep
  while read -r ep; do [[ -n $ep ]] && wait_ports+=("$ep"); done < <(source_endpoints "$name" "$conf")
  local -a sources=()
  while read -r ep; do sources+=("$ep"); done < <(source_names "$name" "$conf")
  ((${#sources[@]} > 0)) || die "no '$name.sources = ...' line in $conf (wrong agent name?)"

  # A port someone else already listens on would look "ready" at once.
  # (A port still held by a killed agent's last threads is given a few seconds.)
  local polls
  for ep in "${wait_ports[@]}"; do
    polls=0
    # shellcheck disable=SC2086
    while port_open $ep && ((polls < 100)); do sleep 0.1; polls=$((polls + 1)); done
    # shellcheck disable=SC2086
    if port_open $ep; then die "port already in use before start: $ep"; fi
  done

  local started=$SECONDS
  ( cd "$work" && exec "$JAVA" "${opts[@]}" -cp "$lib/*" org.apache.flume.node.Application \
      -n "$name" -f "$conf" --no-reload-conf ) </dev/null >"$work/flume.out" 2>&1 &
  local pid=$!
  echo "$pid" >"$work/flume.pid"

  local deadline=$((SECONDS + ${FLUME_START_TIMEOUT:-60})) ready
  while :; do
    if ! alive "$pid"; then
      tail_log "$work"
      die "agent $name exited during startup (pid $pid)"
    fi
    ready=1
    for ep in "${wait_ports[@]}"; do
      # shellcheck disable=SC2086
      port_open $ep || { ready=0; break; }
    done
    if ((ready)) && ((${#wait_ports[@]} == 0 || ${FLUME_WAIT_LOG:-0} == 1)); then
      # No listening source: wait for "Component type: SOURCE, name: X started".
      for ep in "${sources[@]}"; do
        grep -q "Component type: SOURCE, name: $ep started" "$work/flume.log" || { ready=0; break; }
      done
    fi
    ((ready)) && break
    if ((SECONDS >= deadline)); then
      tail_log "$work"
      kill -KILL "$pid" 2>/dev/null || true
      die "agent $name not ready after ${FLUME_START_TIMEOUT:-60} s (waiting for: ${wait_ports[*]/ /:} sources: ${sources[*]})"
    fi
    sleep 0.2
  done
  echo "agent.sh: $name up (pid $pid, $((SECONDS - started)) s)" >&2
}

cmd_stop() {
  [[ $# -eq 1 ]] || die "usage: agent.sh stop WORKDIR"
  local pid; pid=$(pid_of "$1")
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + ${FLUME_STOP_TIMEOUT:-30}))
  while ! gone "$pid"; do
    if ((SECONDS >= deadline)); then
      kill -KILL "$pid" 2>/dev/null || true
      tail_log "$1"
      die "pid $pid ignored SIGTERM for ${FLUME_STOP_TIMEOUT:-30} s; killed"
    fi
    sleep 0.1
  done
}

cmd_kill() {
  [[ $# -eq 1 ]] || die "usage: agent.sh kill WORKDIR"
  local pid; pid=$(pid_of "$1")
  kill -KILL "$pid" 2>/dev/null || true
  # A killed JVM's threads can sit in uninterruptible I/O (state D) for
  # seconds while a loaded CI disk flushes: a 10 s bound failed there once.
  # The bound counts polls, not wall-clock seconds: this machine is a VM that
  # can be paused, and a pause made a thread look stuck in state R for 60
  # "seconds" of wall clock in which it never ran.
  local limit=${FLUME_KILL_TIMEOUT:-60} polls=0
  while ! gone "$pid" && ((polls < limit * 20)); do sleep 0.05; polls=$((polls + 1)); done
  if ! gone "$pid"; then
    local states t
    states=$(sed 's/^.*) //' /proc/"$pid"/task/*/stat 2>/dev/null | cut -d' ' -f1 | sort | uniq -c | tr '\n' ' ')
    for t in /proc/"$pid"/task/*; do
      echo "agent.sh: thread ${t##*/} wchan=$(cat "$t/wchan" 2>/dev/null) stack:" >&2
      cat "$t/stack" >&2 2>/dev/null || true
    done
    die "pid $pid still has running threads after $limit s of polls since SIGKILL (thread states: $states)"
  fi
  return 0
}

cmd_rss() {
  [[ $# -eq 1 ]] || die "usage: agent.sh rss WORKDIR"
  local pid; pid=$(pid_of "$1")
  awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status"
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  kill) shift; cmd_kill "$@" ;;
  rss) shift; cmd_rss "$@" ;;
  lib) "$HERE/fetch.sh" ;;
  *) die "usage: agent.sh start NAME CONF_FILE WORKDIR [HEAP] | stop WORKDIR | kill WORKDIR | rss WORKDIR | lib" ;;
esac
