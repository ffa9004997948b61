//! A syslog load generator for benchmarks: sends RFC 5424 messages over UDP at a
//! target rate (0 = as fast as it can), then prints what it did as JSON.
//!
//! `udpgen ADDR COUNT RATE_PER_S`

use std::net::UdpSocket;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, count, rate] = args.as_slice() else {
        return Err("usage: udpgen ADDR COUNT RATE_PER_S".into());
    };
    let (count, rate): (u64, u64) = (count.parse()?, rate.parse()?);
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.connect(addr)?;
    let start = Instant::now();
    let mut message = Vec::with_capacity(256);
    for i in 0..count {
        message.clear();
        message.extend_from_slice(
            format!(
                "<134>1 2026-11-25T18:10:47.123Z gw-bench app 42 ID7 - message number {i:09} from the syslog benchmark"
            )
            .as_bytes(),
        );
        // ENOBUFS or ECONNREFUSED on a loopback burst: try the same datagram again.
        while socket.send(&message).is_err() {
            std::thread::sleep(Duration::from_micros(50));
        }
        if rate > 0 && i % 1000 == 999 {
            let due = start + Duration::from_secs_f64((i + 1) as f64 / rate as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{{\"sent\":{count},\"seconds\":{secs:.3},\"per_second\":{:.0}}}", count as f64 / secs);
    Ok(())
}
