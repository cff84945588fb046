//! Which part this coordinator plays: the only one (sled, the embedded default), or
//! the leader or a standby among coordinators sharing a database. The election loop
//! ([`crate::leadership`]) keeps it current; health, `/metrics` and the UI show it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use deckle_protocol::api::{CoordinatorRole, CoordinatorStatus};

/// The part this process plays, as last decided.
#[derive(Debug)]
pub struct RoleStatus {
    /// `None`: no election (one coordinator owns the store).
    elected: Option<Mutex<Now>>,
    id: String,
}

#[derive(Debug, Clone, Default)]
struct Now {
    leading: bool,
    epoch: Option<i64>,
    leader_url: Option<String>,
    /// The last successful campaign (renewal, or read of who leads).
    heard: Option<Instant>,
    latency: Option<Duration>,
}

impl RoleStatus {
    /// The only coordinator of its store: it always leads.
    pub fn single() -> Self {
        RoleStatus { elected: None, id: String::new() }
    }

    /// One of several coordinators on a database, known to the others as `id`;
    /// a standby until it wins an election.
    pub fn elected(id: &str) -> Self {
        RoleStatus { elected: Some(Mutex::default()), id: id.to_string() }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Now) -> T) -> Option<T> {
        self.elected.as_ref().map(|m| f(&mut m.lock().unwrap_or_else(|p| p.into_inner())))
    }

    /// Whether this process leads (always, without an election).
    pub fn is_leader(&self) -> bool {
        self.with(|n| n.leading).unwrap_or(true)
    }

    /// Where to send writes while standing by: the leader's URL, if one leads.
    pub fn leader_url(&self) -> Option<String> {
        self.with(|n| if n.leading { None } else { n.leader_url.clone() }).flatten()
    }

    /// The outcome of a campaign that took `latency`: leading in `epoch`, or standing
    /// by while `leader` (its URL and epoch) leads.
    pub fn heard(&self, leading: bool, epoch: Option<i64>, leader_url: Option<String>, latency: Duration) {
        self.with(|n| {
            *n = Now { leading, epoch, leader_url, heard: Some(Instant::now()), latency: Some(latency) };
        });
    }

    /// Stop leading (the term was lost or could not be renewed).
    pub fn stand_by(&self) {
        self.with(|n| {
            n.leading = false;
            n.leader_url = None;
        });
    }

    /// Since the last successful campaign.
    pub fn since_heard(&self) -> Option<Duration> {
        self.with(|n| n.heard.map(|h| h.elapsed())).flatten()
    }

    /// For `/api/v1/health`: `None` without an election.
    pub fn status(&self) -> Option<CoordinatorStatus> {
        self.with(|n| CoordinatorStatus {
            role: if n.leading { CoordinatorRole::Leader } else { CoordinatorRole::Standby },
            id: self.id.clone(),
            epoch: n.epoch,
            leader_url: n.leader_url.clone(),
            lease_age_secs: n.heard.map(|h| h.elapsed().as_secs_f64()),
            database_latency_ms: n.latency.map(|l| l.as_secs_f64() * 1000.0),
        })
    }

    /// Prometheus lines for `/metrics` (none without an election).
    pub fn metrics_text(&self) -> String {
        let Some(s) = self.status() else { return String::new() };
        let mut out = String::new();
        out.push_str("# HELP deckle_coordinator_leader 1 while this coordinator leads, 0 while it stands by.\n# TYPE deckle_coordinator_leader gauge\n");
        out.push_str(&format!("deckle_coordinator_leader {}\n", u8::from(s.role == CoordinatorRole::Leader)));
        out.push_str("# HELP deckle_coordinator_epoch The leader's term this coordinator last saw.\n# TYPE deckle_coordinator_epoch gauge\n");
        out.push_str(&format!("deckle_coordinator_epoch {}\n", s.epoch.unwrap_or(0)));
        if let Some(age) = s.lease_age_secs {
            out.push_str("# HELP deckle_coordinator_lease_age_seconds Since the term was last renewed (leader) or the leader last read (standby).\n# TYPE deckle_coordinator_lease_age_seconds gauge\n");
            out.push_str(&format!("deckle_coordinator_lease_age_seconds {age:.3}\n"));
        }
        if let Some(ms) = s.database_latency_ms {
            out.push_str("# HELP deckle_database_latency_seconds The last round trip to the state database.\n# TYPE deckle_database_latency_seconds gauge\n");
            out.push_str(&format!("deckle_database_latency_seconds {:.6}\n", ms / 1000.0));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_coordinator_always_leads_and_reports_no_role() {
        let r = RoleStatus::single();
        assert!(r.is_leader());
        assert_eq!(r.status(), None);
        assert_eq!(r.metrics_text(), "");
    }

    #[test]
    fn an_elected_coordinator_stands_by_until_it_wins_and_names_the_leader() {
        let r = RoleStatus::elected("b");
        assert!(!r.is_leader(), "a new coordinator stands by");
        r.heard(false, Some(3), Some("http://a:1".into()), Duration::from_millis(2));
        assert_eq!(r.leader_url().as_deref(), Some("http://a:1"));
        let s = r.status().unwrap();
        assert_eq!((s.role, s.epoch, s.id.as_str()), (CoordinatorRole::Standby, Some(3), "b"));
        assert!(r.metrics_text().contains("deckle_coordinator_leader 0\n"));
        r.heard(true, Some(4), Some("http://b:1".into()), Duration::from_millis(2));
        assert!(r.is_leader());
        assert_eq!(r.leader_url(), None, "a leader forwards nothing");
        let m = r.metrics_text();
        assert!(m.contains("deckle_coordinator_leader 1\n") && m.contains("deckle_coordinator_epoch 4\n"), "{m}");
        r.stand_by();
        assert!(!r.is_leader());
    }
}
