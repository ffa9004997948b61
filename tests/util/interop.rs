//! Real upstream programs for interop tests: fetched by the scripts under
//! `tests/interop/`, started on loopback, stopped when dropped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `tests/interop/<peer>/<file>`.
pub fn script(peer: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop").join(peer).join(file)
}

/// Runs a harness script; panics with its output when it fails, so a peer
/// that cannot be had fails the test with the reason rather than skipping it.
pub fn run_script(peer: &str, file: &str, args: &[&str]) -> String {
    let path = script(peer, file);
    let out =
        Command::new("bash").arg(&path).args(args).output().unwrap_or_else(|e| panic!("run {}: {e}", path.display()));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} {args:?} failed ({}):\n{text}\n{}",
        path.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Writes `dir/<name>.toml`: a Sluice agent with an http source on
/// 127.0.0.1:`port` → SQLite channel (data in `dir/<name>-data`) → the sink
/// `upstream`, whose keys besides `channel` are `sink` (TOML lines).
pub fn http_intake_config(dir: &Path, name: &str, port: u16, sink: &str) -> PathBuf {
    crate::write(
        dir,
        &format!("{name}.toml"),
        &format!(
            "[agent]\ndata_dir = \"{data}\"\n[channels.main]\ntype = \"sqlite\"\n\
             [sources.intake]\ntype = \"http\"\nchannels = [\"main\"]\nlisten = \"127.0.0.1:{port}\"\n\
             [sinks.upstream]\nchannel = \"main\"\n{sink}\n",
            data = dir.join(format!("{name}-data")).display()
        ),
    )
}

/// A Flume agent named `a1`, from a template under `tests/interop/flume/`.
pub struct FlumeAgent {
    work: PathBuf,
    conf: PathBuf,
}

impl FlumeAgent {
    /// Fills `template`'s `@KEY@` placeholders and starts the agent in `work`;
    /// returns once its ports accept connections.
    pub fn start(template: &str, work: &Path, placeholders: &[(&str, &str)]) -> FlumeAgent {
        run_script("flume", "fetch.sh", &[]);
        std::fs::create_dir_all(work).unwrap_or_else(|e| panic!("{}: {e}", work.display()));
        let mut text = std::fs::read_to_string(script("flume", template)).unwrap_or_else(|e| panic!("{template}: {e}"));
        for (key, value) in placeholders {
            text = text.replace(&format!("@{key}@"), value);
        }
        let conf = work.join("a1.properties");
        std::fs::write(&conf, text).unwrap_or_else(|e| panic!("{}: {e}", conf.display()));
        let agent = FlumeAgent { work: work.to_path_buf(), conf };
        agent.launch();
        agent
    }

    fn launch(&self) {
        run_script("flume", "agent.sh", &["start", "a1", &self.conf.to_string_lossy(), &self.work.to_string_lossy()]);
    }

    /// SIGKILL, then start again with the same config and state.
    pub fn kill9_and_restart(&self) {
        run_script("flume", "agent.sh", &["kill", &self.work.to_string_lossy()]);
        self.launch();
    }

    /// SIGKILL.
    pub fn kill9(&self) {
        run_script("flume", "agent.sh", &["kill", &self.work.to_string_lossy()]);
    }

    /// Peak RSS (VmHWM) in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        run_script("flume", "agent.sh", &["rss", &self.work.to_string_lossy()]).trim().parse().unwrap_or(0)
    }
}

impl Drop for FlumeAgent {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(script("flume", "agent.sh")).arg("kill").arg(&self.work).output();
    }
}

/// One event as Flume's `avro_event` serializer wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlumeEvent {
    /// Headers.
    pub headers: BTreeMap<String, String>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Every event in the Avro container files `file_roll` wrote into `dir`.
/// A block torn by a SIGKILL of the writer ends that file's events.
pub fn read_file_roll(dir: &Path) -> Vec<FlumeEvent> {
    let mut events = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return events };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if let Ok(bytes) = std::fs::read(&path) {
            read_container(&bytes, &mut events);
        }
    }
    events
}

/// Decodes an Avro object container file of uncompressed `Event` records.
fn read_container(bytes: &[u8], out: &mut Vec<FlumeEvent>) {
    let mut r = Avro { buf: bytes, pos: 0 };
    if r.take(4) != Some(b"Obj\x01") {
        return;
    }
    let Some(meta) = r.map() else { return };
    assert!(
        meta.get("avro.codec").is_none_or(|c| c.as_slice() == b"null"),
        "only the null codec is read here: {:?}",
        meta.get("avro.codec")
    );
    let Some(sync) = r.take(16).map(<[u8]>::to_vec) else { return };
    while r.pos < bytes.len() {
        let block_start = out.len();
        let complete = (|| {
            let count = r.long()?;
            let _size = r.long()?;
            for _ in 0..count {
                let headers = r.map()?;
                let headers = headers.into_iter().map(|(k, v)| (k, String::from_utf8(v).unwrap_or_default())).collect();
                let body = r.bytes()?.to_vec();
                out.push(FlumeEvent { headers, body });
            }
            (r.take(16)? == sync.as_slice()).then_some(())
        })();
        if complete.is_none() {
            out.truncate(block_start);
            return;
        }
    }
}

struct Avro<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Avro<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    fn long(&mut self) -> Option<i64> {
        let mut z = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.take(1)?.first()?;
            z |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some((z >> 1) as i64 ^ -((z & 1) as i64));
            }
        }
        None
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.long()?).ok()?;
        self.take(n)
    }

    fn map(&mut self) -> Option<BTreeMap<String, Vec<u8>>> {
        let mut map = BTreeMap::new();
        loop {
            let count = self.long()?;
            if count == 0 {
                return Some(map);
            }
            if count < 0 {
                self.long()?;
            }
            for _ in 0..count.unsigned_abs() {
                let k = String::from_utf8(self.bytes()?.to_vec()).ok()?;
                map.insert(k, self.bytes()?.to_vec());
            }
        }
    }
}
