//! Whether the data dir can be written. A full or read-only disk is found either by
//! a write that fails (the state store reports it) or by the coordinator's probe
//! ([`probe`]), whichever comes first. While it lasts the coordinator takes no new
//! work (triggers, registrations, reruns, backfills, leases) and says why; work
//! already running carries on, and what was acknowledged stays acknowledged. When
//! a probe succeeds again the store is reopened and the fault cleared.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tracing::warn;

use crate::coordinator::Coordinator;
use crate::error::{Error, Result};

/// A storage fault: what failed, and since when (RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub message: String,
    pub since: String,
}

#[derive(Default)]
pub struct StorageHealth {
    fault: Mutex<Option<Fault>>,
    /// Wakes whoever waits for writes to work again.
    recovered: Notify,
}

impl StorageHealth {
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
        *f = Some(Fault { message, since: jiff::Timestamp::now().to_string() });
        true
    }

    pub fn clear(&self) {
        if self.lock().take().is_some() {
            tracing::info!("storage recovered: the data dir can be written again");
            self.recovered.notify_waiters();
        }
    }

    pub fn fault(&self) -> Option<Fault> {
        self.lock().clone()
    }

    pub fn is_faulted(&self) -> bool {
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

/// How often the monitor looks at the data dir.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// A healthy probe is small; a recovering one asks for room for sled's next segment.
const PROBE_BYTES: usize = 4096;
const RECOVERY_PROBE_BYTES: usize = 1 << 20;

impl Coordinator {
    /// Probe the data dir every second until the coordinator is dropped: a failed
    /// probe raises a fault; while faulted, a probe with room to spare reopens the
    /// store, clears the fault and wakes the planner and the interrupted runs.
    pub(crate) fn spawn_storage_monitor(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PROBE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(me) = weak.upgrade() else { return };
                let faulted = me.health.is_faulted();
                let dir = me.data_dir.clone();
                let bytes = if faulted { RECOVERY_PROBE_BYTES } else { PROBE_BYTES };
                let probed = tokio::task::spawn_blocking(move || probe(&dir, bytes).map_err(|e| format!("{}: {e}", dir.display()))).await;
                match probed {
                    Ok(Err(e)) => {
                        me.health.set(e);
                    }
                    Ok(Ok(())) if faulted => {
                        let store = me.store.clone();
                        match tokio::task::spawn_blocking(move || store.reopen()).await {
                            Ok(Ok(())) => {
                                me.health.clear();
                                me.wake.notify_one();
                            }
                            Ok(Err(e)) => warn!(error = %e, "the data dir takes writes again, but the state store did not reopen"),
                            Err(e) => warn!(error = %e, "reopening the state store panicked"),
                        }
                    }
                    _ => {}
                }
            }
        });
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

    #[test]
    fn probe_writes_nothing_that_stays_and_reports_a_missing_dir() {
        let dir = tempfile::tempdir().unwrap();
        probe(dir.path(), 4096).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let err = probe(&dir.path().join("absent"), 1).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
