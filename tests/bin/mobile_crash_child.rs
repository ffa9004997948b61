//! Records in a loop through the mobile SDK until killed, printing what returned:
//! `S <body>` after each `record_sync`, `R <body> <ms>` after each `record`.
//!
//! `mobile-crash-child DATA_DIR URL ROUND`

use sluice::mobile::Sdk;
use sluice::Priority;
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(url), Some(round)) = (args.next(), args.next(), args.next()) else {
        return Err("usage: mobile-crash-child DATA_DIR URL ROUND".into());
    };
    let config = format!(
        "[mobile]\ncommit_interval = \"50ms\"\n[sinks.up]\ntype = \"http\"\nurl = \"{url}\"\nbatch = {{ linger = \"0ms\" }}\n"
    );
    let sdk = Sdk::open(std::path::Path::new(&dir), &config)?;
    // The SDK's default transport: this process's own uploader loop sends.
    sluice_tests::uploader::start(sdk.uploads());
    let mut out = std::io::stdout().lock();
    for i in 0u64.. {
        let body = format!("S-{round}-{i}");
        sdk.record_sync(Sdk::event(body.clone().into_bytes(), vec![], Priority::Normal)?)?;
        writeln!(out, "S {body}")?;
        // Then records for ~100 ms that only the writer's timer commits.
        for j in 0..500 {
            let body = format!("R-{round}-{i}-{j}");
            sdk.record(Sdk::event(body.clone().into_bytes(), vec![], Priority::Normal)?)?;
            writeln!(out, "R {body} {}", sluice::event::now_ms())?;
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        out.flush()?;
    }
    Ok(())
}
