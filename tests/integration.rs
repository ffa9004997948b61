//! Integration tests: the real `sluice` binary (and the core) against real peers on loopback.

// Malformed configs and hostile HTTP requests: clear errors, nothing accepted, no crash.
mod bad_input;
// The command line: --version, help TYPE against the README, check FILE, units, a closed pipe.
mod cli;
// Headless Chromium: the status page against /metrics.json; sendBeacon and fetch intake.
mod browser;
// sluice convert-flume on the Flume User Guide's example agents; conf/ samples pass check.
mod convert_flume;
// Bytes overwritten in the store: the agent starts, delivers what is readable, counts the rest.
mod corruption;
// A child process killed with SIGKILL mid put/take, 50 times: nothing committed is lost.
mod crash;
// A real full disk (tmpfs): intake refused or evicting, delivery never stops, intake resumes.
mod disk_full;
// The store giving delivered data's space back (flash wear), under 30 SIGKILLs: nothing lost, no line read twice.
mod flash;
// Flume's own syslog and HTTP test cases, as data, through the real agent.
mod flume_cases;
// The http source's dedup window: a retried batch stored once; an edge killed 10 times, no duplicates.
mod dedup;
// Configuration reload: SIGHUP and the file watch under load; refused versions counted.
mod reload;
// http source -> SQLite -> http sink with the agent killed half way: zero loss.
mod e2e;
// Gateway intake: exec, host_metrics vs /proc, the rolling file sink, CORS for browsers.
mod gateway;
// The otlp_http source and the http source's plain JSON: spec replies, hostile bodies, Fluent Bit and Vector shapes.
mod otlp_intake;
// The mobile SDK's core: record, flush, offline, metered budget, background flush, quota.
mod mobile;
// /metrics and /metrics.json, and back pressure from a full channel.
mod metrics;
// Sink groups: failover to a backup, round-robin load balancing.
mod sink_groups;
// syslog (logger, rsyslog omfwd, malformed and oversized input) and the tcp lines source.
mod syslog;
// taildir: globs, late files, long lines, read_from, and 1M lines through rotations and 30 SIGKILLs.
mod taildir;
// The sink runner against an upstream that fails, throttles, drops and refuses.
mod sink_runner;
