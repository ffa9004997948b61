//! A syslog load generator for benchmarks: sends RFC 5424 messages over UDP at a
//! target rate (0 = as fast as it can) from THREADS sockets, then prints what it
//! did as JSON. Messages are numbered in place (no allocation per message), so
//! the sender costs little more than its send calls.
//!
//! `udpgen ADDR COUNT RATE_PER_S [THREADS]`

use std::net::UdpSocket;
use std::time::{Duration, Instant};

const TEMPLATE: &[u8] =
    b"<134>1 2026-11-25T18:10:47.123Z gw-bench app 42 ID7 - message number 000000000 from the syslog benchmark";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (addr, count, rate, threads) = match args.as_slice() {
        [_, addr, count, rate] => (addr.clone(), count.parse::<u64>()?, rate.parse::<u64>()?, 1u64),
        [_, addr, count, rate, threads] => {
            (addr.clone(), count.parse()?, rate.parse()?, threads.parse::<u64>()?.max(1))
        }
        _ => return Err("usage: udpgen ADDR COUNT RATE_PER_S [THREADS]".into()),
    };
    let digits_at = TEMPLATE.windows(9).position(|w| w == b"000000000").ok_or("template")?;
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let addr = addr.clone();
            std::thread::spawn(move || -> std::io::Result<()> {
                let socket = UdpSocket::bind("127.0.0.1:0")?;
                socket.connect(&addr)?;
                let mut message = TEMPLATE.to_vec();
                let (mine, per_thread_rate) = (count / threads + u64::from(t < count % threads), rate / threads);
                for i in 0..mine {
                    let mut n = i * threads + t;
                    for d in (0..9).rev() {
                        message[digits_at + d] = b'0' + (n % 10) as u8;
                        n /= 10;
                    }
                    // ENOBUFS or ECONNREFUSED on a loopback burst: try the same datagram again.
                    while socket.send(&message).is_err() {
                        std::thread::sleep(Duration::from_micros(50));
                    }
                    if per_thread_rate > 0 && i % 500 == 499 {
                        let due = start + Duration::from_secs_f64((i + 1) as f64 / per_thread_rate as f64);
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                    }
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join().map_err(|_| "sender thread panicked")??;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{{\"sent\":{count},\"seconds\":{secs:.3},\"per_second\":{:.0}}}", count as f64 / secs);
    Ok(())
}
