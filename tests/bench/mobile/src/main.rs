//! `record()` of Sluice's mobile SDK against Mozilla's Glean (v71) event metric,
//! one process per run (Glean is a process-wide singleton).
//!
//! `sluice-mobile-bench sluice|glean THREADS N DATA_DIR [RECEIVER_URL]`
//!
//! Both record N small events with two extras (screen, action) from THREADS
//! threads; the clock runs around each call only. "Persisted" is the time from
//! the first call until every event is on disk: Sluice's barrier is one
//! `record_sync` (the writer commits in order), Glean's is
//! `get_registered_ping_names()`, which waits for its dispatcher queue.
//! Nothing is uploaded during the burst (Sluice is told it is offline; Glean's
//! default uploader sends nothing); Sluice then uploads everything to
//! RECEIVER_URL so its disk bytes cover the whole life of an event.
//! Prints one JSON object.

use std::time::{Duration, Instant};

const SCREENS: [&str; 4] = ["home", "search", "cart", "settings"];
const ACTIONS: [&str; 10] = ["tap", "scroll", "swipe", "open", "close", "share", "like", "play", "pause", "buy"];

fn proc_value(file: &str, key: &str) -> u64 {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn write_bytes() -> (u64, u64) {
    (proc_value("/proc/self/io", "write_bytes:"), proc_value("/proc/self/io", "wchar:"))
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// Runs `record(thread, i)` N times over THREADS threads; returns (latencies in ns, loop wall time).
fn burst(threads: usize, n: usize, record: impl Fn(usize) + Sync) -> (Vec<u64>, Duration) {
    let per = n / threads;
    let start = Instant::now();
    let mut all: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let record = &record;
                s.spawn(move || {
                    let mut lat = Vec::with_capacity(per);
                    for i in 0..per {
                        let t0 = Instant::now();
                        record(t * per + i);
                        lat.push(t0.elapsed().as_nanos() as u64);
                    }
                    lat
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    let wall = start.elapsed();
    all.sort_unstable();
    (all, wall)
}

fn report(sdk: &str, threads: usize, n: usize, lat: &[u64], loop_wall: Duration, persisted: Duration, extra: &str) {
    let (wb, wc) = write_bytes();
    println!(
        "{{\"sdk\":\"{sdk}\",\"threads\":{threads},\"n\":{n},\"p50_ns\":{},\"p90_ns\":{},\"p99_ns\":{},\"p999_ns\":{},\"max_ns\":{},\
         \"caller_eps\":{:.0},\"persisted_eps\":{:.0},\"peak_rss_kib\":{},\"write_bytes\":{wb},\"wchar\":{wc}{extra}}}",
        percentile(lat, 0.5),
        percentile(lat, 0.9),
        percentile(lat, 0.99),
        percentile(lat, 0.999),
        lat.last().copied().unwrap_or(0),
        n as f64 / loop_wall.as_secs_f64(),
        n as f64 / persisted.as_secs_f64(),
        proc_value("/proc/self/status", "VmHWM:"),
    );
}

fn run_sluice(threads: usize, n: usize, dir: &str, url: &str) -> Result<(), Box<dyn std::error::Error>> {
    use sluice::mobile::{Network, Sdk};
    // SLUICE_BENCH_MOBILE: extra [mobile] keys, to try settings without rebuilding.
    let mobile = std::env::var("SLUICE_BENCH_MOBILE").unwrap_or_default();
    let config = format!("[mobile]\nmax_bytes = \"512MiB\"\n{mobile}\n[sinks.up]\ntype = \"http\"\ntransport = \"builtin\"\nurl = \"{url}\"\n");
    let sdk = Sdk::open(std::path::Path::new(dir), &config)?;
    sdk.set_network(Network::Offline);
    let rss_open = proc_value("/proc/self/status", "VmRSS:");
    let disk_at_init = write_bytes().0;
    let start = Instant::now();
    let (lat, wall) = burst(threads, n, |i| {
        let headers = vec![
            ("screen".to_string(), SCREENS[i % 4].to_string()),
            ("action".to_string(), ACTIONS[i % 10].to_string()),
        ];
        // What both bindings call: checks, consent, counting of what is not taken.
        let _ = sdk.record_event(b"bench.tap".to_vec(), headers, sluice::Priority::Normal, false);
    });
    // The writer commits in order: once this returns, everything before it is on disk.
    sdk.record_sync(Sdk::event(b"barrier".to_vec(), vec![], sluice::Priority::Normal)?)?;
    let persisted = start.elapsed();
    let rss_after_burst = proc_value("/proc/self/status", "VmHWM:");
    let (disk_persisted, _) = write_bytes();
    sdk.set_network(Network::Unmetered);
    let t = Instant::now();
    let drained = sdk.flush(Duration::from_secs(120))?;
    let upload = t.elapsed();
    sdk.close();
    let extra = format!(
        ",\"rss_open_kib\":{rss_open},\"peak_rss_burst_kib\":{rss_after_burst},\"write_bytes_persisted\":{disk_persisted},\"write_bytes_at_init\":{disk_at_init},\"uploaded\":{drained},\"upload_s\":{:.3}",
        upload.as_secs_f64()
    );
    report("sluice", threads, n, &lat, wall, persisted, &extra);
    Ok(())
}

#[cfg(feature = "glean")]
fn run_glean(threads: usize, n: usize, dir: &str) -> Result<(), Box<dyn std::error::Error>> {
    use glean::private::{EventMetric, PingType};
    use std::collections::HashMap;

    #[derive(Default, Clone)]
    struct Extra {
        screen: Option<String>,
        action: Option<String>,
    }
    impl glean::traits::ExtraKeys for Extra {
        const ALLOWED_KEYS: &'static [&'static str] = &["screen", "action"];
        fn into_ffi_extra(self) -> HashMap<String, String> {
            let mut map = HashMap::new();
            if let Some(s) = self.screen {
                map.insert("screen".into(), s);
            }
            if let Some(a) = self.action {
                map.insert("action".into(), a);
            }
            map
        }
    }

    let ping = PingType::new("bench", true, false, true, true, true, vec![], vec![], true, vec![]);
    let metric: EventMetric<Extra> = EventMetric::new(glean::CommonMetricData {
        category: "bench".into(),
        name: "tap".into(),
        send_in_pings: vec!["bench".into()],
        lifetime: glean::Lifetime::Ping,
        ..Default::default()
    });
    let cfg = glean::ConfigurationBuilder::new(true, dir, "sluice.bench").build();
    glean::initialize(cfg, glean::ClientInfoMetrics::unknown());
    glean::get_registered_ping_names(); // init done
    let (_, disk_at_init) = (0, write_bytes().0);
    let rss_open = proc_value("/proc/self/status", "VmRSS:");
    let start = Instant::now();
    let (lat, wall) = burst(threads, n, |i| {
        metric.record(Extra { screen: Some(SCREENS[i % 4].into()), action: Some(ACTIONS[i % 10].into()) })
    });
    glean::get_registered_ping_names(); // the dispatcher queue is empty: every event is in its file
    let persisted = start.elapsed();
    let rss_after_burst = proc_value("/proc/self/status", "VmHWM:");
    let (disk_persisted, _) = write_bytes();
    ping.submit(None);
    glean::get_registered_ping_names();
    glean::shutdown();
    let extra = format!(
        ",\"rss_open_kib\":{rss_open},\"peak_rss_burst_kib\":{rss_after_burst},\"write_bytes_persisted\":{},\"write_bytes_at_init\":{disk_at_init}",
        disk_persisted
    );
    report("glean", threads, n, &lat, wall, persisted, &extra);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: sluice-mobile-bench sluice|glean THREADS N DATA_DIR [RECEIVER_URL]";
    if args.len() < 4 {
        return Err(usage.into());
    }
    let threads: usize = args[1].parse()?;
    let n: usize = args[2].parse()?;
    match args[0].as_str() {
        "sluice" => run_sluice(threads, n, &args[3], args.get(4).ok_or(usage)?),
        #[cfg(feature = "glean")]
        "glean" => run_glean(threads, n, &args[3]),
        _ => Err(usage.into()),
    }
}
