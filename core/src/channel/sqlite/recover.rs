//! Salvage at run time: a store found damaged while running (a row that cannot
//! be read or deleted) is copied into a fresh file and swapped in, so delivery
//! goes on with everything readable, and what was lost is counted exactly.

use super::salvage::{self, LostRow};
use super::schema::{self, FILE_NAME};
use super::space::Space;
use super::{State, Store};
use crate::error::{Error, Result};
use rusqlite::Connection;
use std::time::{Duration, Instant};

/// Least time between two salvages: damage that comes back at once is not fixed
/// by copying again, and each copy reads the whole store.
const RECOVER_EVERY: Duration = Duration::from_secs(60);

impl Store {
    /// Salvages the store under the lock; returns whether it did (not within
    /// [`RECOVER_EVERY`] of the last one, and only if the copy succeeded).
    pub(super) fn recover(&self, state: &mut State, cause: &Error) -> bool {
        if state.recovered_at.is_some_and(|at| at.elapsed() < RECOVER_EVERY) {
            return false;
        }
        state.recovered_at = Some(Instant::now());
        log::error!("store {}: damaged while running ({cause}); salvaging into a fresh file", self.dir.display());
        match self.swap_in_salvaged(state) {
            Ok(()) => true,
            Err(e) => {
                log::error!("store {}: salvage failed, the damaged store stays in use: {e}", self.dir.display());
                false
            }
        }
    }

    fn swap_in_salvaged(&self, state: &mut State) -> Result<()> {
        let path = self.dir.join(FILE_NAME);
        let fresh_path = self.dir.join(format!("{FILE_NAME}.salvage"));
        remove_store_files(&fresh_path);
        let fresh = schema::open_file(&fresh_path, self.power_safe, self.page_size)?;
        let report = salvage::copy(&state.conn, &fresh);
        if let Some(why) = &report.stopped {
            drop(fresh);
            remove_store_files(&fresh_path);
            return Err(Error::storage(format!("the copy stopped: {why}")));
        }
        fresh.close().map_err(|(_, e)| Error::from(e))?;
        // Let go of the damaged file (without checkpointing into it), set it aside, swap.
        let damaged = std::mem::replace(&mut state.conn, Connection::open_in_memory()?);
        let _ = damaged.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true);
        drop(damaged);
        let aside = schema::set_aside(&self.dir, &path)?;
        std::fs::rename(&fresh_path, &path)?;
        remove_store_files(&fresh_path);
        state.conn = schema::open_file(&path, self.power_safe, self.page_size)?;
        let page_size: i64 = state.conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        state.space = Space::open(&self.dir, &state.conn, page_size.max(512) as u64, self.power_safe);
        self.forget_lost(state, &report);
        log::error!(
            "store {}: salvaged ({}); the damaged file is {}",
            self.dir.display(),
            report.summary(),
            aside.display()
        );
        self.set_aside.lock().unwrap_or_else(|p| p.into_inner()).push(aside);
        Ok(())
    }

    /// Takes the rows the copy did not carry out of the index, counting each
    /// loss (the copy quarantined the rows it could list; the rest it could not
    /// even list, and the index knows what they held).
    fn forget_lost(&self, state: &mut State, report: &salvage::Report) {
        let State { conn, channels, .. } = state;
        for index in channels.iter_mut() {
            let gone: Vec<_> = index
                .rows
                .iter()
                .enumerate()
                .flat_map(|(p, rows)| rows.keys().map(move |seq| (p, *seq)))
                .filter(|(_, seq)| !report.copied.contains(seq))
                .collect();
            for (p, seq) in gone {
                let priority = crate::event::Priority::from_u8(p as u8);
                let Some((events, bytes)) = index.forget(priority, seq) else { continue };
                index.metrics.corrupt.add(events);
                if report.lost.iter().any(|l| l.seq == seq) {
                    continue;
                }
                let lost = LostRow { seq, channel: index.name.clone(), priority, events, bytes };
                if let Err(e) = salvage::quarantine_lost(conn, &lost, "in a damaged part of the store") {
                    log::error!("channel {}: loss of {events} events not recorded: {e}", index.name);
                }
            }
            index.publish();
            index.space.notify();
        }
    }
}

/// Removes a store file and its WAL and shared memory, where they exist.
fn remove_store_files(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(std::path::PathBuf::from(name));
    }
}
