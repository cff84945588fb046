//! `deckle server`: the coordinator over HTTP.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

mod shared;
use deckle_orchestrator::http::{router, ApiConfig};
use deckle_orchestrator::coordinator::{Coordinator, CoordinatorConfig};
use deckle_orchestrator::health::StorageHealth;
use deckle_orchestrator::mirror::Mirror;
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct ServerArgs {
    /// State (sled, unless --state), registered workflows and output notebooks.
    /// Coordinators sharing one --state database share this directory too (a shared
    /// file system).
    #[arg(long, default_value = ".deckle")]
    data: PathBuf,
    /// Keep the state in PostgreSQL 14+ (`postgres://user:password@host:port/db`)
    /// instead of sled under --data. Any number of servers may share one database:
    /// one leads, the others stand by, serve reads and forward the rest to it.
    #[arg(long, env = "DECKLE_STATE")]
    state: Option<String>,
    /// Seconds a leader's term lasts without renewal (with --state): a standby takes
    /// over within about this long after the leader dies.
    #[arg(long, default_value_t = 5.0)]
    leader_term: f64,
    /// Address to listen on (`127.0.0.1:0` picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// A file holding the bearer token every request must carry (else `DECKLE_TOKEN`;
    /// without either, the API is open).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Seconds a lease lives without a heartbeat before its node is retried elsewhere.
    #[arg(long, default_value_t = 15.0)]
    lease_ttl: f64,
    /// Largest request body in MiB (registrations, notebook uploads).
    #[arg(long, default_value_t = 64)]
    max_body_mib: usize,
    /// How others reach this server, for links in webhooks and, with --state, for the
    /// other coordinators to forward to it (default: the listen address).
    #[arg(long)]
    public_url: Option<String>,
    #[command(flatten)]
    artifacts: ArtifactArgs,
}

/// Where output notebooks and registered files go beyond the data dir.
#[derive(Args, Debug, Clone, Default)]
pub struct ArtifactArgs {
    /// Keep output notebooks and registered workflow files in object storage
    /// (`s3://bucket/prefix`, `gs://…`, `az://…`, or a local directory); the data
    /// dir then stages only what is running or not yet uploaded. Credentials come
    /// from the provider's usual environment variables and files.
    #[arg(long, env = "DECKLE_ARTIFACTS", value_name = "URL")]
    pub artifacts: Option<String>,
    /// The endpoint of an S3-compatible server (else `AWS_ENDPOINT_URL`).
    #[arg(long, env = "DECKLE_ARTIFACTS_ENDPOINT", value_name = "URL")]
    pub artifacts_endpoint: Option<String>,
}

impl ArtifactArgs {
    /// The mirror these options ask for (none without `--artifacts`); checks that
    /// the store takes a write. The error names the store, never a credential.
    pub async fn mirror(&self, data: &std::path::Path, health: Arc<StorageHealth>) -> Result<Mirror, String> {
        let Some(url) = self.artifacts.as_deref().filter(|u| !u.trim().is_empty()) else { return Ok(Mirror::none()) };
        let loc: deckle_storage::Location = url.trim().parse().map_err(|e: deckle_storage::Error| format!("--artifacts {e}"))?;
        let opts = deckle_storage::Options { endpoint: self.artifacts_endpoint.clone().filter(|e| !e.is_empty()), ..Default::default() };
        let store = deckle_storage::Store::open(&loc, &opts).map_err(|e| format!("--artifacts {e}"))?;
        let data = data.to_path_buf();
        let started = tokio::task::spawn_blocking(move || Mirror::start(&data, store, health)).await.map_err(|e| e.to_string())?;
        started.map_err(|e| format!("cannot write to the artifact store: {e}"))
    }
}

pub fn read_token(file: Option<&PathBuf>) -> Result<Option<String>, String> {
    match file {
        Some(f) => {
            let t = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
            let t = t.trim().to_string();
            if t.is_empty() {
                return Err(format!("{}: the token file is empty", f.display()));
            }
            Ok(Some(t))
        }
        None => Ok(std::env::var("DECKLE_TOKEN").ok().filter(|t| !t.trim().is_empty()).map(|t| t.trim().to_string())),
    }
}

/// SIGINT or SIGTERM.
async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}

pub async fn run(args: ServerArgs) -> i32 {
    let token = match read_token(args.token_file.as_ref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("deckle: {e}");
            return 2;
        }
    };
    if !(args.lease_ttl.is_finite() && args.lease_ttl > 0.0) {
        eprintln!("deckle: --lease-ttl must be a positive number of seconds");
        return 2;
    }
    if !(args.leader_term.is_finite() && args.leader_term >= 0.5) {
        eprintln!("deckle: --leader-term must be at least 0.5 seconds");
        return 2;
    }
    // A data dir that cannot be written is said plainly now, not as a failed
    // write later.
    let writable = std::fs::create_dir_all(&args.data).and_then(|()| deckle_orchestrator::health::probe(&args.data, 4096));
    if let Err(e) = writable {
        eprintln!("deckle: cannot write the data dir {}: {e}", args.data.display());
        return 3;
    }
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("deckle: cannot listen on {}: {e}", args.listen);
            return 1;
        }
    };
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or(args.listen.clone());
    let mut cfg = CoordinatorConfig::new(&args.data);
    cfg.lease_ttl = Duration::from_secs_f64(args.lease_ttl);
    cfg.public_url = args.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let health = Arc::new(StorageHealth::default());
    cfg.mirror = match args.artifacts.mirror(&args.data, health.clone()).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("deckle: {e}");
            return 3;
        }
    };
    if let Some(url) = args.state.as_deref().filter(|u| !u.trim().is_empty()) {
        return shared::run(&args, url.trim(), cfg, listener, &addr, token, health).await;
    }
    let coordinator = match Coordinator::open_with(&cfg, health) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("deckle: cannot open the data dir {}: {e}", args.data.display());
            return 3;
        }
    };
    match coordinator.resume_all() {
        Ok(0) => {}
        Ok(n) => eprintln!("deckle server: resumed {n} run(s) in flight"),
        Err(e) => {
            eprintln!("deckle: cannot read the runs in flight: {e}");
            return 1;
        }
    }
    coordinator.start_planner();
    let board = coordinator.board.clone();
    let app = router(coordinator, &ApiConfig { token: token.clone(), max_body: args.max_body_mib << 20, csrf_secret: None });
    let artifacts = if cfg.mirror.enabled() { format!(", artifacts: {}", cfg.mirror.url(&args.data)) } else { String::new() };
    eprintln!("deckle server listening on http://{addr} (data: {}{artifacts}, auth: {})", args.data.display(), if token.is_some() { "token" } else { "none" });
    let shutdown = async move {
        stop_signal().await;
        board.close();
    };
    match axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("deckle: server error: {e}");
            1
        }
    }
}
