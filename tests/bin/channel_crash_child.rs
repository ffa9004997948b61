//! Puts and takes on a SQLite channel in a loop until killed, logging to stdout:
//! `p ID..` before a put, `P` after it committed; `t ID..` before a take's
//! commit, `T` after. The crash test kills this process with SIGKILL and checks
//! the store against the log.

use sluice::channel::{Capacity, Channel, Store};
use sluice::Event;
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: channel-crash-child DIR")?;
    let channel = Store::open(dir.as_ref(), false)?.channel("main", Capacity::default())?;
    let mut out = std::io::stdout().lock();
    let mut round = 0u64;
    loop {
        round += 1;
        let n = 1 + (round % 7) as usize;
        let batch: Vec<Event> = (0..n).map(|i| Event::new(format!("round {round} event {i}"))).collect();
        writeln!(out, "p {}", ids(&batch))?;
        out.flush()?;
        channel.put(batch)?;
        writeln!(out, "P")?;
        out.flush()?;
        if round.is_multiple_of(2) {
            if let Some(taken) = channel.take(1 + (round % 11) as usize, usize::MAX)? {
                writeln!(out, "t {}", ids(&taken.events))?;
                out.flush()?;
                if round.is_multiple_of(10) {
                    channel.rollback(taken);
                    writeln!(out, "R")?;
                } else {
                    channel.commit(taken, Vec::new())?;
                    writeln!(out, "T")?;
                }
                out.flush()?;
            }
        }
    }
}

fn ids(events: &[Event]) -> String {
    events.iter().map(|e| e.id.to_string()).collect::<Vec<_>>().join(" ")
}
