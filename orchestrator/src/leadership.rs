//! Leader and standbys: the election loop of `deckle server --state postgres://…`.
//!
//! Every coordinator on one database campaigns every fifth of a term. The winner's
//! term is a row in the database with an epoch; it renews the term while it lives
//! and its store's commits are fenced to the epoch ([`crate::store::Election`]).
//! A standby serves reads and forwards the rest ([`crate::http::standby_router`]);
//! when the leader's term runs out (it died, or lost the database), the next
//! campaign wins, and the winner becomes the leader exactly as a restarted server
//! does: it loads the leases in flight (their workers keep running and reach it
//! through any coordinator), resumes the runs the database says are running, and
//! starts the planner. A leader that loses its term, or cannot renew it for a whole
//! term, returns from [`run`] and its process starts over as a standby
//! (`deckle server` re-executes itself), so nothing of the old term lingers in it.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use tracing::{error, info, warn};

use crate::clock::SystemClock;
use crate::coordinator::{Coordinator, CoordinatorConfig};
use crate::error::Result;
use crate::health::StorageHealth;
use crate::http::{router, standby_router, ApiConfig};
use crate::store::{Candidate, StateStore};

/// What the loop needs besides the store.
#[derive(Debug, Clone)]
pub struct Settings {
    /// This process, as the others know it.
    pub candidate: Candidate,
    /// How long a term lasts without renewal: a dead leader is replaced within
    /// about this long.
    pub term: Duration,
    /// The coordinator this process runs when it leads (its `role` is the one the
    /// loop keeps current).
    pub coordinator: CoordinatorConfig,
    /// The HTTP settings of either router.
    pub api: ApiConfig,
}

/// The router a listener serves: the standby's until this process wins, then the
/// leader's. Cheap to clone; [`Front::router`] is what `axum::serve` takes.
#[derive(Clone)]
pub struct Front {
    current: Arc<RwLock<Router>>,
    /// The coordinator this process leads with, once it does.
    leading: Arc<RwLock<Option<Arc<Coordinator>>>>,
}

impl Front {
    fn new(r: Router) -> Self {
        Front { current: Arc::new(RwLock::new(r)), leading: Arc::default() }
    }

    fn lead(&self, c: Arc<Coordinator>, r: Router) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = r;
        *self.leading.write().unwrap_or_else(|p| p.into_inner()) = Some(c);
    }

    /// Whether this process took over as leader.
    fn leads(&self) -> bool {
        self.leading.read().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// At shutdown: end the workers' long polls now, as a single server does, so
    /// the listener's graceful stop need not wait them out.
    pub fn close(&self) {
        if let Some(c) = self.leading.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
            c.board.close();
        }
    }

    /// A router that hands every request to the current one.
    pub fn router(&self) -> Router {
        let me = self.clone();
        Router::new().fallback_service(tower::service_fn(move |req: axum::extract::Request| {
            let current = me.current.read().unwrap_or_else(|p| p.into_inner()).clone();
            async move { Ok::<_, std::convert::Infallible>(tower::ServiceExt::oneshot(current, req).await.unwrap_or_else(|e| match e {})) }
        }))
    }
}

/// The standby's front for `store` (which must already be fenced as a standby).
pub fn standby(store: Arc<dyn StateStore>, health: Arc<StorageHealth>, s: &Settings) -> Result<Front> {
    let reader = Coordinator::reader(&s.coordinator, store, Arc::new(SystemClock), health)?;
    Ok(Front::new(standby_router(reader, &s.api)))
}

/// Campaign until this process loses a term it held; the reason it stepped down.
/// `front` is switched to the leader's router when it wins.
pub async fn run(store: Arc<dyn StateStore>, health: Arc<StorageHealth>, s: Settings, front: Front) -> String {
    let Some(election) = store.election() else { return "the state store has no election".into() };
    let role = s.coordinator.role.clone();
    let every = (s.term / 5).max(Duration::from_millis(100));
    loop {
        let asked = Instant::now();
        match election.campaign(&s.candidate, s.term).await {
            Ok(Some(epoch)) => {
                role.heard(true, Some(epoch), Some(s.candidate.url.clone()), asked.elapsed());
                if !front.leads() {
                    info!(epoch, "this coordinator leads now");
                    match take_over(store.clone(), health.clone(), &s.coordinator) {
                        Ok(c) => {
                            front.lead(c.clone(), router(c, &s.api));
                            eprintln!("deckle server: leading (epoch {epoch})");
                        }
                        Err(e) => {
                            error!(error = %e, "could not take over as leader; standing by");
                            role.stand_by();
                            if let Err(e) = election.resign(&s.candidate).await {
                                warn!(error = %e, "could not resign");
                            }
                            // The failed coordinator may have tasks running: start over.
                            return format!("taking over failed: {e}");
                        }
                    }
                }
            }
            Ok(None) => {
                if front.leads() {
                    role.stand_by();
                    return "another coordinator took over (this one's term had run out)".into();
                }
                match election.leader().await {
                    Ok(l) => role.heard(false, l.as_ref().map(|l| l.epoch), l.map(|l| l.url), asked.elapsed()),
                    Err(e) => warn!(error = %e, "cannot read who leads"),
                }
            }
            Err(e) => {
                warn!(error = %e, "campaign failed");
                if front.leads() && role.since_heard().is_none_or(|d| d >= s.term) {
                    role.stand_by();
                    return format!("could not renew the term for {:?}: {e}", s.term);
                }
            }
        }
        if front.leads() && !election.is_leading() {
            role.stand_by();
            return "a commit was refused: another coordinator leads".into();
        }
        tokio::time::sleep(every).await;
    }
}

/// Become the leader as a restarted server would: leases back from the store, runs
/// in flight resumed, the planner started.
fn take_over(store: Arc<dyn StateStore>, health: Arc<StorageHealth>, cfg: &CoordinatorConfig) -> Result<Arc<Coordinator>> {
    let c = Coordinator::with_health(cfg, store, Arc::new(SystemClock), health)?;
    c.spawn_storage_monitor();
    let n = c.resume_all()?;
    if n > 0 {
        eprintln!("deckle server: resumed {n} run(s) in flight");
    }
    c.start_planner();
    Ok(c)
}
