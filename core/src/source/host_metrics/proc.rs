//! Reading `/proc`: one snapshot of the counters `host_metrics` reports.
//! A file that is missing or does not parse leaves its part empty.

use std::collections::BTreeMap;
use std::path::Path;

/// CPU time in clock ticks, from the `cpu` line of `/proc/stat`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTimes {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
}

impl CpuTimes {
    /// All ticks (guest time is already inside user and nice).
    pub fn total(&self) -> u64 {
        self.user + self.nice + self.system + self.idle + self.iowait + self.irq + self.softirq + self.steal
    }
}

/// Named counters of one device or interface.
pub type Counters = (String, Vec<(&'static str, u64)>);

/// Everything read at one moment.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub cpu: Option<CpuTimes>,
    pub cores: usize,
    /// `/proc/meminfo` in bytes.
    pub memory: BTreeMap<String, u64>,
    pub load: Option<(f64, f64, f64)>,
    pub disks: Vec<Counters>,
    pub nets: Vec<Counters>,
}

impl Snapshot {
    /// Reads the files under `root` (normally `/proc`).
    pub fn read(root: &Path) -> Snapshot {
        let read = |name: &str| std::fs::read_to_string(root.join(name)).unwrap_or_default();
        let stat = read("stat");
        Snapshot {
            cpu: parse_cpu(&stat),
            cores: stat
                .lines()
                .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
                .count(),
            memory: parse_meminfo(&read("meminfo")),
            load: parse_loadavg(&read("loadavg")),
            disks: parse_diskstats(&read("diskstats")),
            nets: parse_net_dev(&read("net/dev")),
        }
    }
}

pub fn parse_cpu(stat: &str) -> Option<CpuTimes> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line.split_whitespace().skip(1).map(|x| x.parse().unwrap_or(0)).collect();
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    Some(CpuTimes {
        user: at(0),
        nice: at(1),
        system: at(2),
        idle: at(3),
        iowait: at(4),
        irq: at(5),
        softirq: at(6),
        steal: at(7),
    })
}

/// `Key: value kB` lines, in bytes.
pub fn parse_meminfo(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let (key, rest) = line.split_once(':')?;
            let mut words = rest.split_whitespace();
            let n: u64 = words.next()?.parse().ok()?;
            let factor = if words.next() == Some("kB") { 1024 } else { 1 };
            Some((key.trim().to_string(), n * factor))
        })
        .collect()
}

pub fn parse_loadavg(text: &str) -> Option<(f64, f64, f64)> {
    let mut w = text.split_whitespace().map(|x| x.parse::<f64>().ok());
    Some((w.next()??, w.next()??, w.next()??))
}

/// Whole block devices (not partitions, not loop/ram devices) of `/proc/diskstats`.
pub fn parse_diskstats(text: &str) -> Vec<Counters> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let name = *f.get(2)?;
            if name.starts_with("loop") || name.starts_with("ram") || is_partition(name) {
                return None;
            }
            let n = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
            Some((
                name.to_string(),
                vec![
                    ("reads", n(3)),
                    ("read_bytes", n(5) * 512),
                    ("writes", n(7)),
                    ("written_bytes", n(9) * 512),
                    ("io_ms", n(12)),
                ],
            ))
        })
        .collect()
}

/// `sda1`, `nvme0n1p2`, `mmcblk0p1` are partitions; `sda`, `nvme0n1`, `mmcblk0` are not.
fn is_partition(name: &str) -> bool {
    if name.starts_with("nvme") || name.starts_with("mmcblk") {
        return name.rsplit_once('p').is_some_and(|(head, tail)| {
            !tail.is_empty()
                && tail.bytes().all(|b| b.is_ascii_digit())
                && head.bytes().last().is_some_and(|b| b.is_ascii_digit())
        });
    }
    (name.starts_with("sd") || name.starts_with("vd") || name.starts_with("hd") || name.starts_with("xvd"))
        && name.bytes().last().is_some_and(|b| b.is_ascii_digit())
}

/// Interfaces of `/proc/net/dev`.
pub fn parse_net_dev(text: &str) -> Vec<Counters> {
    text.lines()
        .skip(2)
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let v: Vec<u64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0)).collect();
            let at = |i: usize| v.get(i).copied().unwrap_or(0);
            Some((
                name.trim().to_string(),
                vec![
                    ("rx_bytes", at(0)),
                    ("rx_packets", at(1)),
                    ("rx_errors", at(2)),
                    ("rx_dropped", at(3)),
                    ("tx_bytes", at(8)),
                    ("tx_packets", at(9)),
                    ("tx_errors", at(10)),
                    ("tx_dropped", at(11)),
                ],
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_proc_formats() {
        let cpu = parse_cpu("cpu  10 2 30 400 5 6 7 8 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n");
        assert_eq!(cpu.map(|c| (c.user, c.idle, c.steal, c.total())), Some((10, 400, 8, 468)));
        let mem = parse_meminfo("MemTotal:       16318412 kB\nMemAvailable:    8000000 kB\nHugePages_Total:       0\n");
        assert_eq!(mem.get("MemTotal"), Some(&(16_318_412 * 1024)));
        assert_eq!(mem.get("HugePages_Total"), Some(&0));
        assert_eq!(parse_loadavg("0.52 0.58 0.59 1/917 12345\n"), Some((0.52, 0.58, 0.59)));
        let disks = parse_diskstats(
            "   8       0 sda 100 0 2000 0 50 0 4000 0 0 77 0\n   8       1 sda1 1 0 2 0 3 0 4 0 0 5 0\n   7 0 loop0 1 0 1 0 0 0 0 0 0 0 0\n 259 0 nvme0n1 1 0 8 0 1 0 8 0 0 1 0\n 259 1 nvme0n1p1 1 0 8 0 1 0 8 0 0 1 0\n",
        );
        let names: Vec<&str> = disks.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["sda", "nvme0n1"]);
        assert!(disks[0].1.contains(&("read_bytes", 2000 * 512)));
        let nets = parse_net_dev(
            "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n",
        );
        assert_eq!(nets[0].0, "lo");
        assert!(nets[0].1.contains(&("tx_bytes", 2000)));
    }
}
