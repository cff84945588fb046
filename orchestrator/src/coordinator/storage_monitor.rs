//! The coordinator's storage monitor: it probes the data dir every second and, after
//! a fault, reopens the store once writes work again (see [`crate::health`]).

use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

use super::Coordinator;
use crate::health::probe;

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
                let faulted = me.health.disk_faulted();
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

