//! Keeping a lease: a heartbeat every third of its TTL, and what the replies (or
//! their absence) say about it, published as a [`Standing`].

use std::time::Duration;

use deckle_protocol::backoff::Backoff;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};
use tracing::{debug, warn};

use super::client::Client;
use crate::error::Error;

/// Where a lease stands. Ordered: a later state overrides an earlier one, never
/// the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Standing {
    /// Ours; keep going.
    Held,
    /// The run was cancelled: stop, upload what was written, complete as cancelled.
    Cancel,
    /// No heartbeat got through for a whole TTL: the server has given the attempt
    /// away by now. Stop and do not complete.
    Unreachable,
    /// The server says the lease is not ours any more (409). Stop and do not complete.
    Stale,
}

/// Move `standing` on to `to`, unless it is already there or further.
pub fn escalate(standing: &watch::Sender<Standing>, to: Standing) {
    standing.send_if_modified(|s| {
        let moved = to > *s;
        if moved {
            *s = to;
        }
        moved
    });
}

/// The heartbeat task of one lease; stops when dropped.
#[derive(Debug)]
pub struct Heartbeat(JoinHandle<()>);

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Heartbeat `lease` (granted just now with `ttl`) until dropped, or until it is
/// [`Standing::Stale`] or [`Standing::Unreachable`].
pub fn spawn(client: Client, lease: String, ttl: Duration, standing: watch::Sender<Standing>) -> Heartbeat {
    Heartbeat(tokio::spawn(beat(client, lease, ttl, standing)))
}

async fn beat(client: Client, lease: String, mut ttl: Duration, standing: watch::Sender<Standing>) {
    // When a heartbeat last got through (counted from when it was sent: the
    // server's clock started no earlier).
    let mut last_ok = Instant::now();
    let mut next = last_ok + ttl / 3;
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_millis(250));
    loop {
        sleep_until(next).await;
        let now = Instant::now();
        let lost_at = last_ok + ttl;
        if now >= lost_at {
            warn!(ttl_secs = ttl.as_secs_f64(), "no heartbeat got through for the lease's TTL; giving the attempt up");
            escalate(&standing, Standing::Unreachable);
            return;
        }
        let timeout = (lost_at - now).min(ttl / 3).max(Duration::from_millis(500));
        match client.heartbeat(&lease, timeout).await {
            Ok(reply) => {
                last_ok = now;
                if reply.ttl_secs > 0.0 {
                    ttl = Duration::from_secs_f64(reply.ttl_secs);
                }
                if reply.cancel {
                    debug!("the server asks to cancel");
                    escalate(&standing, Standing::Cancel);
                }
                backoff.reset();
                next = now + ttl / 3;
            }
            Err(e @ Error::StaleLease { .. }) => {
                warn!(error = %e, "lease lost");
                escalate(&standing, Standing::Stale);
                return;
            }
            Err(e) => {
                // The pauses grow up to a sixth of the (current) TTL.
                backoff.set_max((ttl / 6).max(Duration::from_millis(250)));
                let pause = backoff.next_delay().unwrap_or(ttl);
                warn!(error = %e, retry_in_secs = pause.as_secs_f64(), "heartbeat failed");
                next = (Instant::now() + pause).min(last_ok + ttl);
            }
        }
    }
}
