//! The benchmark events: ~200-byte access-log lines with varying fields, three headers.

use sluice::Event;

/// Events a batch in the benchmarks.
pub const BATCH: usize = 1000;

/// Access-log line number `n`.
pub fn line(n: usize) -> String {
    const PATHS: [&str; 6] =
        ["/api/v1/orders", "/static/app.js", "/login", "/api/v1/items/search", "/health", "/img/logo.png"];
    const AGENTS: [&str; 3] = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "okhttp/4.12.0"];
    format!(
        "10.{}.{}.{} - - [25/Nov/2026:12:{:02}:{:02} +0000] \"GET {}?id={} HTTP/1.1\" {} {} \"-\" \"{}\" rt={}.{:03}",
        n % 251,
        (n / 7) % 256,
        (n / 13) % 256,
        (n / 60) % 60,
        n % 60,
        PATHS[n % 6],
        n,
        [200, 200, 304, 404, 500, 200][n % 6],
        200 + (n * 37) % 5000,
        AGENTS[n % 3],
        n % 3,
        n % 1000
    )
}

/// `BATCH` events, numbered from `from`.
pub fn events(from: usize) -> Vec<Event> {
    (from..from + BATCH)
        .map(|n| {
            Event::new(line(n)).with_header("app", "web").with_header("host", "gw-1").with_header("seq", n.to_string())
        })
        .collect()
}
