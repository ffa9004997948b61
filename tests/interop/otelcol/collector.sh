#!/usr/bin/env bash
# An OpenTelemetry Collector on loopback for interop tests: OTLP/HTTP receiver
# on 127.0.0.1:PORT, every signal written by the file exporter as JSON lines.
# The binary comes from fetch.sh (built once, cached).
#
#   collector.sh start  WORKDIR PORT   write config, start, wait until ready
#   collector.sh stop   WORKDIR        SIGTERM, wait for exit (SIGKILL after 15 s)
#   collector.sh status WORKDIR        exit 0 if running
#
# WORKDIR layout: config.yaml, port, logs.json / traces.json / metrics.json (file
# exporter output, one ExportXServiceRequest JSON per line), collector.log
# (the collector's own log, stderr), collector.pid.
# Env: OTELCOL_DEBUG=1 also prints every log record to collector.log
# (debug exporter, detailed verbosity). OTELCOL_FORWARD=http://HOST:PORT also
# sends every log record on with the otlphttp exporter (to HOST:PORT/v1/logs,
# gzip), in OTELCOL_FORWARD_ENCODING (proto, the default, or json).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "collector.sh: $*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_of() { [[ -f "$1/collector.pid" ]] && cat "$1/collector.pid"; }

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

write_config() {
  local dir=$1 port=$2 logs_exporters="file/logs"
  [[ "${OTELCOL_DEBUG:-0}" == 1 ]] && logs_exporters+=", debug"
  [[ -n "${OTELCOL_FORWARD:-}" ]] && logs_exporters+=", otlphttp/forward"
  logs_exporters="[$logs_exporters]"
  cat > "$dir/config.yaml" <<EOF
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:$port

exporters:
  # One JSON object per line, each an OTLP Export*ServiceRequest in the
  # protobuf-JSON mapping. flush_interval: how often the buffered writer is
  # flushed to disk (default 1s). append: keep the file across restarts
  # (the default, false, truncates it when the collector starts).
  file/logs:
    path: $dir/logs.json
    format: json
    append: true
    flush_interval: 50ms
  file/traces:
    path: $dir/traces.json
    format: json
    append: true
    flush_interval: 50ms
  file/metrics:
    path: $dir/metrics.json
    format: json
    append: true
    flush_interval: 50ms
  debug:
    verbosity: detailed
  otlphttp/forward:
    logs_endpoint: ${OTELCOL_FORWARD:-http://127.0.0.1:9}/v1/logs
    encoding: ${OTELCOL_FORWARD_ENCODING:-proto}
    compression: gzip
    retry_on_failure:
      enabled: true
      initial_interval: 100ms
      max_interval: 1s

service:
  telemetry:
    logs:
      level: info
    # no internal metrics endpoint (default :8888 would clash between instances)
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [otlp]
      exporters: $logs_exporters
    traces:
      receivers: [otlp]
      exporters: [file/traces]
    metrics:
      receivers: [otlp]
      exporters: [file/metrics]
EOF
}

cmd_start() {
  local dir=${1:?WORKDIR} port=${2:?PORT} bin t0
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if running "$dir"; then
    [[ "$(cat "$dir/port" 2>/dev/null)" == "$port" ]] \
      || die "already running (pid $(pid_of "$dir")) on another port"
    echo "collector.sh: already running (pid $(pid_of "$dir"))" >&2
    return 0
  fi
  port_open "$port" && die "port $port is already in use"
  bin=$("$HERE/fetch.sh")
  write_config "$dir" "$port"
  echo "$port" > "$dir/port"
  "$bin" validate --config "$dir/config.yaml" >> "$dir/collector.log" 2>&1 \
    || { tail -20 "$dir/collector.log" >&2; die "invalid config"; }
  rm -f "$dir/collector.pid"
  t0=$(date +%s%N)
  nohup setsid bash -c 'echo $$ > "$1"; shift; exec "$@"' _ "$dir/collector.pid" \
    "$bin" --config "$dir/config.yaml" >> "$dir/collector.log" 2>&1 < /dev/null &
  disown || true
  local deadline=$(( $(date +%s) + ${COLLECTOR_START_TIMEOUT:-30} ))
  until [[ -s "$dir/collector.pid" ]]; do sleep 0.02; done
  until port_open "$port"; do
    running "$dir" || { tail -30 "$dir/collector.log" >&2; die "collector exited during start"; }
    (( $(date +%s) < deadline )) || { cmd_stop "$dir" || true; die "port $port not open after ${COLLECTOR_START_TIMEOUT:-30}s"; }
    sleep 0.05
  done
  echo "collector.sh: otelcol ready on http://127.0.0.1:$port (pid $(pid_of "$dir")) in $(( ($(date +%s%N) - t0) / 1000000 )) ms" >&2
}

cmd_stop() {
  local dir=${1:?WORKDIR} pid
  running "$dir" || { rm -f "$dir/collector.pid"; return 0; }
  pid=$(pid_of "$dir")
  kill -TERM "$pid"
  for _ in $(seq 1 150); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    echo "collector.sh: no exit 15 s after SIGTERM, sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # the leader thread may be gone before the listening socket is closed
  local port
  port=$(cat "$dir/port" 2>/dev/null || true)
  for _ in $(seq 1 100); do
    [[ -n "$port" ]] && port_open "$port" || break
    sleep 0.1
  done
  rm -f "$dir/collector.pid"
}

sub=${1:-}
[[ $# -gt 0 ]] && shift
case "$sub" in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  status) running "${1:?WORKDIR}" ;;
  *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
