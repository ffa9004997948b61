//! Table tests of the space decisions.

use super::*;

const KIB: u64 = 1024;
const MIB: u64 = 1 << 20;

#[test]
fn the_wal_and_the_reserve_scale_with_the_disk() {
    let rows: &[(u64, u64, u64, u64)] = &[
        // page size, disk, WAL pages, reserve bytes
        (16 * KIB, 8 << 30, 1000, 1016 * 16 * KIB),
        (16 * KIB, 32 * MIB, 32, 48 * 16 * KIB),
        (16 * KIB, 4 * MIB, 16, 32 * 16 * KIB),
        (4 * KIB, 64 << 30, 1000, 1016 * 4 * KIB),
        (4 * KIB, 32 * MIB, 128, 144 * 4 * KIB),
    ];
    for &(page_size, disk, wal_pages, reserve) in rows {
        let plan = Plan::for_disk(page_size, disk);
        assert_eq!((plan.wal_pages, plan.reserve_bytes), (wal_pages, reserve), "{page_size} on {disk}");
    }
}

#[test]
fn need_table() {
    let plan = Plan::for_disk(16 * KIB, 32 * MIB);
    let ps = plan.page_size;
    let frame = ps + WAL_FRAME_HEADER;
    let r = |db_pages: u64, page_count: u64, freelist: u64| Reading {
        avail: 0,
        db_len: db_pages * ps,
        page_count,
        freelist,
        ..Reading::default()
    };
    let rows: &[(&str, Reading, u64, bool, u64)] = &[
        ("nothing to write, reserve held", r(10, 10, 0), 0, true, 0),
        ("nothing to write, reserve given away", r(10, 10, 0), 0, false, plan.reserve_bytes),
        ("a page of new data grows the file", r(10, 10, 0), 14 * KIB, true, (1 + 4) * frame + ps),
        ("free pages are reused: no growth", r(10, 10, 5), 14 * KIB, true, (1 + 4) * frame),
        ("growth waiting in the WAL counts", r(10, 13, 0), 0, true, 3 * ps),
        ("all of it", r(10, 13, 1), 28 * KIB, false, (2 + 4) * frame + ps + 3 * ps + plan.reserve_bytes),
    ];
    for (what, reading, put, held, want) in rows {
        assert_eq!(need(&plan, reading, *put, *held), *want, "{what}");
    }
}

#[test]
fn quotas_larger_than_the_disk_are_said() {
    let dir = Path::new("/data");
    assert_eq!(outlook_message(dir, 64 * MIB, 32 * MIB), None);
    let warning = outlook_message(dir, 31 * MIB, 512 * MIB).unwrap_or_default();
    assert!(warning.contains("total 512 MiB") && warning.contains("room for 31 MiB"), "{warning}");
}

#[test]
fn upkeep_table() {
    let plan = Plan::for_disk(16 * KIB, 8 << 30);
    let r = |page_count: u64, freelist: u64, wal_len: u64, live_rows: u64| Reading {
        avail: 1 << 30,
        db_len: page_count * plan.page_size,
        page_count,
        freelist,
        wal_len,
        live_rows,
    };
    let young = Duration::from_millis(300);
    let old = WAL_MAX_AGE;
    let rows: &[(&str, Reading, Duration, Upkeep)] = &[
        ("a new empty store", r(20, 0, 0, 0), young, Upkeep::Nothing),
        ("empty with a WAL: truncate it", r(20, 0, 64 * KIB, 0), young, Upkeep::TruncateWal),
        ("empty with free pages: give them all back", r(20, 3, 64 * KIB, 0), young, Upkeep::Shrink(3)),
        ("busy, few free pages, young WAL", r(400, 60, 4 * MIB, 1), young, Upkeep::Nothing),
        ("busy, a burst delivered: 1 MiB free, 2 MiB live", r(192, 64, 4 * MIB, 1), young, Upkeep::Shrink(64)),
        ("busy, 1 MiB free but more than 2 MiB live", r(193, 64, 4 * MIB, 1), young, Upkeep::Nothing),
        ("a long backlog half drained: not moved", r(20_000, 10_000, 4 * MIB, 1), young, Upkeep::Nothing),
        ("little live but under 1 MiB free", r(40, 30, 4 * MIB, 1), young, Upkeep::Nothing),
        ("busy, old WAL: truncate before the kernel writes it", r(400, 60, 4 * MIB, 1), old, Upkeep::TruncateWal),
        ("busy, old but empty WAL", r(400, 60, 0, 1), old, Upkeep::Nothing),
    ];
    for (what, reading, age, want) in rows {
        assert_eq!(upkeep(&plan, reading, *age), *want, "{what}");
    }
}

#[test]
fn tight_below_a_full_wal_cycle() {
    let plan = Plan::for_disk(16 * KIB, 32 * MIB);
    let reading = |avail, page_count| Reading { avail, db_len: 10 * plan.page_size, page_count, ..Reading::default() };
    assert!(!is_tight(&plan, &reading(plan.reserve_bytes, 10)));
    assert!(is_tight(&plan, &reading(plan.reserve_bytes - 1, 10)));
    assert!(is_tight(&plan, &reading(plan.reserve_bytes, 11)), "the WAL's waiting growth must fit too");
    assert_eq!(rearm_needs(&plan, &reading(0, 12)), 2 * plan.reserve_bytes + 2 * plan.page_size);
}
