//! `deckle server --state postgres://…`: one of several coordinators on one
//! database. It starts as a standby, campaigns, and leads when it wins
//! (`deckle_orchestrator::leadership`). A leader that loses its term starts this
//! process over (the same pid, by `exec`) so it rejoins as a standby with nothing
//! of the old term left running.

use std::sync::Arc;
use std::time::Duration;

use deckle_orchestrator::coordinator::CoordinatorConfig;
use deckle_orchestrator::health::StorageHealth;
use deckle_orchestrator::http::ApiConfig;
use deckle_orchestrator::leadership::{self, Settings};
use deckle_orchestrator::role::RoleStatus;
use deckle_orchestrator::store::postgres::{mask_password, Fence};
use deckle_orchestrator::store::{Candidate, PgStore, StateStore};
use sha2::{Digest, Sha256};

use super::ServerArgs;

/// Set by a leader that stepped down for the process it starts over as.
const REJOINING: &str = "DECKLE_REJOINING";

pub async fn run(args: &ServerArgs, url: &str, mut cfg: CoordinatorConfig, listener: tokio::net::TcpListener, addr: &str, token: Option<String>, health: Arc<StorageHealth>) -> i32 {
    // A leader that stepped down starts over here: its database may still be away,
    // so it waits for it instead of failing as a bad URL given by hand does.
    let rejoining = std::env::var_os(REJOINING).is_some();
    let mut tries = 0u32;
    let pg = loop {
        let (u, h) = (url.to_string(), health.clone());
        // Opening connects and migrates, blocking: off the runtime's threads.
        let opened = tokio::task::spawn_blocking(move || PgStore::open(&u, h)).await.unwrap_or_else(|e| Err(deckle_orchestrator::Error::Store(e.to_string())));
        match opened {
            Ok(pg) => break pg,
            Err(e) if rejoining => {
                if tries % 10 == 0 {
                    eprintln!("deckle server: waiting for the state database {}: {e}", mask_password(url));
                }
                tries += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                eprintln!("deckle: cannot open the state database {}: {e}", mask_password(url));
                return 3;
            }
        }
    };
    pg.set_fence(Fence::Standby);
    let shown = pg.url().to_string();
    let store: Arc<dyn StateStore> = Arc::new(pg);
    // host:pid as workers are named, and a suffix: after a restart in place (same
    // pid) this process is a new candidate.
    let candidate = Candidate { id: format!("{}:{}", deckle_worker::remote::default_name(), &uuid::Uuid::new_v4().simple().to_string()[..6]), url: cfg.public_url.clone() };
    cfg.role = Arc::new(RoleStatus::elected(&candidate.id));
    // Forms a standby served are posted to the leader: both make CSRF tokens alike.
    let csrf = hex::encode(Sha256::digest(format!("deckle-csrf-shared\0{}\0{url}", token.clone().unwrap_or_default()).as_bytes()));
    let settings = Settings {
        candidate: candidate.clone(),
        term: Duration::from_secs_f64(args.leader_term),
        coordinator: cfg,
        api: ApiConfig { token: token.clone(), max_body: args.max_body_mib << 20, csrf_secret: Some(csrf) },
    };
    let front = match leadership::standby(store.clone(), health.clone(), &settings) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("deckle: cannot read the state database {shown}: {e}");
            return 3;
        }
    };
    eprintln!(
        "deckle server listening on http://{addr} (data: {}, state: {shown}, auth: {}; standing by until elected)",
        args.data.display(),
        if token.is_some() { "token" } else { "none" }
    );
    let app = front.router();
    let closing = front.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let resign_store = store.clone();
    let me = candidate.clone();
    let server = tokio::spawn(async move {
        let shutdown = async move {
            tokio::select! {
                _ = super::stop_signal() => {
                    // Hand over now rather than make a standby wait out the term.
                    if let Some(e) = resign_store.election() {
                        let _ = e.resign(&me).await;
                    }
                    closing.close();
                }
                _ = stop_rx => {}
            }
        };
        axum::serve(listener, app).with_graceful_shutdown(shutdown).await
    });
    let campaign = leadership::run(store, health, settings, front);
    tokio::pin!(server);
    tokio::select! {
        done = &mut server => match done {
            Ok(Ok(())) => 0,
            Ok(Err(e)) => {
                eprintln!("deckle: server error: {e}");
                1
            }
            Err(e) => {
                eprintln!("deckle: server error: {e}");
                1
            }
        },
        why = campaign => {
            eprintln!("deckle server: stepping down: {why}; starting over as a standby");
            let _ = stop_tx.send(());
            restart_in_place(addr)
        }
    }
}

/// `exec` this program again with the same arguments, listening where it listened
/// (a port picked with `:0` is kept). Returns only if that fails.
fn restart_in_place(addr: &str) -> i32 {
    use std::os::unix::process::CommandExt;
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    let mut skip = false;
    for a in std::env::args_os().skip(1) {
        if skip {
            skip = false;
            continue;
        }
        match a.to_str() {
            Some("--listen") => skip = true,
            Some(s) if s.starts_with("--listen=") => {}
            _ => args.push(a),
        }
    }
    args.push("--listen".into());
    args.push(addr.into());
    let exe = std::env::current_exe().unwrap_or_else(|_| "deckle".into());
    let e = std::process::Command::new(exe).args(args).env(REJOINING, "1").exec();
    eprintln!("deckle: cannot restart as a standby: {e}");
    1
}
