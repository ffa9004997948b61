//! Test utilities: temp dirs, the real `sluice` binary, and a real HTTP receiver.

pub mod interop;
pub mod receiver;
pub mod sqlite_file;
pub mod uploader;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `sluice` binary built from this workspace. The first call in a test
/// process runs `cargo build --workspace --bins` (a no-op after the README's
/// test command), so `cargo test -p sluice-tests --test integration` alone never
/// runs a missing or stale binary.
pub fn sluice_bin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let mut dir = std::env::current_exe().unwrap_or_default();
            dir.pop();
            if dir.ends_with("deps") {
                dir.pop();
            }
            build_bins(&dir);
            dir.join("sluice")
        })
        .clone()
}

/// `cargo build --workspace --bins` into the target directory holding `profile_dir`.
fn build_bins(profile_dir: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "--workspace", "--bins", "--quiet"]);
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    if let Some(target) = profile_dir.parent() {
        build.arg("--target-dir").arg(target);
    }
    let status = build.current_dir(env!("CARGO_MANIFEST_DIR")).status();
    assert!(status.as_ref().is_ok_and(|s| s.success()), "cargo build --workspace --bins failed: {status:?}");
}

/// A binary of this test crate (built next to `sluice`).
pub fn test_bin(name: &str) -> PathBuf {
    sluice_bin().with_file_name(name)
}

/// `sluice ARGS` with logs at warn.
pub fn sluice(args: &[&str]) -> Command {
    let mut c = Command::new(sluice_bin());
    c.args(args).env("SLUICE_LOG", "info");
    c
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

/// A running agent that is killed when dropped.
pub struct Agent {
    /// The child process.
    pub child: Child,
}

impl Agent {
    /// Starts `sluice run -c config`, stderr to `log`.
    pub fn start(config: &Path, log: &Path) -> Agent {
        let log = std::fs::File::create(log).unwrap_or_else(|e| panic!("log file: {e}"));
        let child = sluice(&["run", "-c", &config.to_string_lossy()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn sluice: {e}"));
        Agent { child }
    }

    /// SIGKILL.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for the exit status.
    pub fn terminate(&mut self) -> Option<i32> {
        // SAFETY: kill(2) with a pid we own and a valid signal number.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().ok().and_then(|s| s.code())
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Polls `f` every 20 ms until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// A free loopback port (bound then released), below Linux's ephemeral range.
///
/// A port the kernel handed out for `:0` lies in the ephemeral range
/// (32768–60999 here), and a client connecting there while the peer is down
/// (a Flume or Kafka being SIGKILLed and restarted) can be given that same
/// port as its local one and connect to itself, holding the port so the peer
/// cannot restart on it. Ports from 20000–32767 cannot be chosen that way.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    // Each test process starts somewhere else in the range; threads take turns.
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = 20_000 + (std::process::id() % 6_000) as u16 * 2;
    let _ = NEXT.compare_exchange(0, start, Ordering::SeqCst, Ordering::SeqCst);
    for _ in 0..12_768 {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = 20_000 + port.wrapping_sub(20_000) % 12_768;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

/// A blocking HTTP GET on a fresh connection; returns the body ("" on any error).
pub fn get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else { return String::new() };
    let _ = write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}

/// `/metrics.json` of the agent whose metrics listener is `addr` (`Null` when unreachable).
pub fn metrics_json(addr: &str) -> serde_json::Value {
    serde_json::from_str(&get(addr, "/metrics.json")).unwrap_or_default()
}

/// A blocking HTTP POST on a fresh connection; returns (status, body).
pub fn post(
    addr: &str,
    path: &str,
    content_type: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply)?;
    let text = String::from_utf8_lossy(&reply).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// A real small filesystem: a tmpfs of a few MiB mounted on a temp dir,
/// unmounted when dropped. Needs root (CI runs as root): a test that cannot
/// mount one fails, it does not skip.
pub struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    /// Mounts a tmpfs of `mib` MiB.
    pub fn mount(mib: u64) -> SmallFs {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m,mode=0700"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap_or_else(|e| panic!("mount: {e}"));
        assert!(status.success(), "mounting a {mib} MiB tmpfs failed (this test needs root, as CI has)");
        SmallFs { dir }
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Bytes free on it.
    pub fn free(&self) -> u64 {
        let out = Command::new("df").args(["-B1", "--output=avail"]).arg(self.path()).output();
        out.ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).lines().nth(1).and_then(|l| l.trim().parse().ok()))
            .unwrap_or(0)
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// CPU time (user + system) process `pid` has used, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// The pipeline most tests need: an http source → a sqlite channel `main` → an
/// http sink, with lines of their own for each section.
#[derive(Debug, Default, Clone)]
pub struct Pipeline {
    /// The http source's port.
    pub port: u16,
    /// The metrics port, if any.
    pub metrics: Option<u16>,
    /// The sink's URL.
    pub upstream: String,
    /// More lines for `[agent]`, `[channels.main]`, `[sources.intake]`, `[sinks.upstream]`.
    pub agent: String,
    /// See `agent`.
    pub channel: String,
    /// See `agent`.
    pub source: String,
    /// See `agent`.
    pub sink: String,
}

impl Pipeline {
    /// Writes the config as `dir/agent.toml` with its store in `data`.
    pub fn write(&self, dir: &Path, data: &Path) -> PathBuf {
        let metrics = self.metrics.map(|m| format!("metrics_listen = \"127.0.0.1:{m}\"\n")).unwrap_or_default();
        let text = format!(
            "[agent]\ndata_dir = \"{data}\"\n{metrics}{agent}\n\
             [channels.main]\ntype = \"sqlite\"\n{channel}\n\
             [sources.intake]\ntype = \"http\"\nchannels = [\"main\"]\nlisten = \"127.0.0.1:{port}\"\n{source}\n\
             [sinks.upstream]\ntype = \"http\"\nchannel = \"main\"\nurl = \"{url}\"\n{sink}\n",
            data = data.display(),
            agent = self.agent,
            channel = self.channel,
            port = self.port,
            source = self.source,
            url = self.upstream,
            sink = self.sink,
        );
        write(dir, "agent.toml", &text)
    }
}

/// A receiver that answers `down` (a status) until the flag is set, then 200.
pub fn switchable_upstream(down: u16) -> (receiver::Receiver, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::Ordering;
    let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = up.clone();
    let receiver = receiver::Receiver::scripted(move |_, _| {
        let status = if flag.load(Ordering::SeqCst) { 200 } else { down };
        receiver::Reply::Status(status, vec![], String::new())
    });
    (receiver, up)
}
