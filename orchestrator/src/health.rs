//! Whether the data dir can be written. A full or read-only disk is found either by
//! a write that fails (the state store reports it) or by the coordinator's probe
//! ([`probe`], run by its storage monitor), whichever comes first. While it lasts the coordinator takes no new
//! work (triggers, registrations, reruns, backfills, leases) and says why; work
//! already running carries on, and what was acknowledged stays acknowledged. When
//! a probe succeeds again the store is reopened and the fault cleared.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};

/// A storage fault: what failed, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The path and the OS error.
    pub message: String,
    /// When it was first seen.
    pub since: jiff::Timestamp,
}

/// The data dir's health, shared by the state store (which reports failed writes),
/// the storage monitor, and whoever takes new work (which asks [`Self::check`]).
pub struct StorageHealth {
    fault: Mutex<Option<Fault>>,
    /// The artifact store's fault (`--artifacts`), raised and cleared by its uploads
    /// (`crate::mirror`), apart from the data dir's.
    artifacts: Mutex<Option<Fault>>,
    /// Wakes whoever waits for writes to work again.
    recovered: Notify,
    /// Dates a fault.
    clock: Arc<dyn Clock>,
}

impl Default for StorageHealth {
    fn default() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }
}

impl StorageHealth {
    /// Healthy, dating faults by `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        StorageHealth { fault: Mutex::new(None), artifacts: Mutex::new(None), recovered: Notify::new(), clock }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Fault>> {
        self.fault.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record a fault; the first one stands until [`Self::clear`]. Returns whether
    /// this call started the fault (so it is logged once).
    pub fn set(&self, message: impl Into<String>) -> bool {
        let mut f = self.lock();
        if f.is_some() {
            return false;
        }
        let message = message.into();
        tracing::error!(error = %message, "storage fault: no new work is taken until the data dir can be written again");
        *f = Some(Fault { message, since: self.clock.now() });
        true
    }

    /// The data dir takes writes again: wake whoever waits.
    pub fn clear(&self) {
        if self.lock().take().is_some() {
            tracing::info!("storage recovered: the data dir can be written again");
            self.recovered.notify_waiters();
        }
    }

    /// The artifact store failed an upload (see `crate::mirror`); the first such
    /// fault stands until [`Self::clear_artifacts`].
    pub fn set_artifacts(&self, message: impl Into<String>) {
        let mut f = self.artifacts.lock().unwrap_or_else(|p| p.into_inner());
        if f.is_none() {
            let message = message.into();
            tracing::error!(error = %message, "artifact store fault: no new work is taken until uploads work again");
            *f = Some(Fault { message, since: self.clock.now() });
        }
    }

    /// An upload worked again.
    pub fn clear_artifacts(&self) {
        if self.artifacts.lock().unwrap_or_else(|p| p.into_inner()).take().is_some() {
            tracing::info!("artifact store recovered: uploads work again");
            self.recovered.notify_waiters();
        }
    }

    /// The fault, while it lasts: the data dir's, else the artifact store's.
    pub fn fault(&self) -> Option<Fault> {
        self.lock().clone().or_else(|| self.artifacts.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// Whether there is a fault (of the data dir or the artifact store). Asked on
    /// every lease poll: nothing is cloned.
    pub fn is_faulted(&self) -> bool {
        self.disk_faulted() || self.artifacts.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Whether the data dir itself is faulted (what the storage monitor recovers).
    pub fn disk_faulted(&self) -> bool {
        self.lock().is_some()
    }

    /// `Ok` when new work may be taken; otherwise the error that refuses it.
    pub fn check(&self) -> Result<()> {
        match self.fault() {
            None => Ok(()),
            Some(f) => Err(Error::StorageFault(f.message)),
        }
    }

    /// Resolves at the next [`Self::clear`].
    pub async fn recovered(&self) {
        self.recovered.notified().await
    }
}

/// Write `bytes` to a scratch file in `dir`, sync and remove it: does the data dir
/// take writes right now?
pub fn probe(dir: &Path, bytes: usize) -> std::io::Result<()> {
    let path = dir.join(".deckle-probe");
    let result = (|| {
        let mut f = std::fs::File::create(&path)?;
        f.write_all(&vec![0u8; bytes])?;
        f.sync_all()
    })();
    let _ = std::fs::remove_file(&path);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_fault_stands_until_cleared_and_refuses_work() {
        let h = StorageHealth::default();
        assert!(h.check().is_ok());
        assert!(h.set("disk full"));
        assert!(!h.set("read-only"), "a second fault does not replace the first");
        match h.check() {
            Err(Error::StorageFault(m)) => assert_eq!(m, "disk full"),
            other => panic!("{other:?}"),
        }
        h.clear();
        assert!(h.check().is_ok());
        assert!(h.set("read-only"));
        assert_eq!(h.fault().unwrap().message, "read-only");
    }

    /// It read the system time directly, bypassing the injected clock.
    #[test]
    fn a_fault_is_dated_by_the_injected_clock() {
        let t: jiff::Timestamp = "2026-03-29T01:30:00Z".parse().unwrap();
        let h = StorageHealth::with_clock(Arc::new(crate::clock::FixedClock(t)));
        h.set("disk full");
        assert_eq!(h.fault().unwrap().since, t);
    }

    #[test]
    fn probe_writes_nothing_that_stays_and_reports_a_missing_dir() {
        let dir = tempfile::tempdir().unwrap();
        probe(dir.path(), 4096).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let err = probe(&dir.path().join("absent"), 1).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
