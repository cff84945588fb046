//! `deckle run FILE`: a whole workflow in one process — the engine with its sled
//! state and an embedded worker — with a live view and a summary.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use deckle_orchestrator::mirror::Mirror;
use deckle_orchestrator::clock::SystemClock;
use deckle_orchestrator::engine::{Engine, EngineConfig, Event, RunOutcome, RunRequest};
use deckle_orchestrator::orphans;
use deckle_orchestrator::record::{NodeStatus, RunStatus};
use deckle_orchestrator::store::SledStore;
use tokio::sync::mpsc;

use crate::local_executor::LocalExecutor;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The workflow file (YAML or JSON).
    pub file: PathBuf,
    /// A workflow parameter, `name=value` (typed by its declaration).
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// The logical date (`run.date`), YYYY-MM-DD; default: today in the schedule's time zone.
    #[arg(long)]
    pub date: Option<String>,
    /// Where state (sled) and output notebooks go; default: a new directory under the system temp dir.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// How many notebooks run at once.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Kernels kept booted ahead of need (fresh for every notebook; 0 to boot on demand).
    #[arg(long, default_value_t = 2)]
    pub warm_kernels: usize,
    /// Print the run record as JSON on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub artifacts: crate::server_cmd::ArtifactArgs,
}

pub const EXIT_FAILED: i32 = 1;
pub const EXIT_INVALID: i32 = 2;
/// The data dir cannot be written (full, read-only): what was recorded stays.
pub const EXIT_STORAGE: i32 = 3;

/// How long a finished run waits for its notebooks to reach the artifact store.
const UPLOAD_GRACE: std::time::Duration = std::time::Duration::from_secs(120);

fn status_mark(s: NodeStatus) -> &'static str {
    match s {
        NodeStatus::Succeeded => "ok",
        NodeStatus::Failed => "FAILED",
        NodeStatus::Skipped => "skipped",
        NodeStatus::UpstreamFailed => "upstream_failed",
        NodeStatus::Cancelled => "cancelled",
        NodeStatus::Retrying => "retrying",
        _ => s.as_str(),
    }
}

/// Live view: one line per transition, on stderr.
async fn show_events(mut rx: mpsc::UnboundedReceiver<Event>, tty: bool) {
    let started = std::time::Instant::now();
    while let Some(e) = rx.recv().await {
        let t = started.elapsed().as_secs_f64();
        let line = match e {
            Event::RunStarted { run_id, nodes } => format!("run {run_id}: {nodes} nodes"),
            Event::NodeStarted { node, index, attempt, .. } => {
                let at = if attempt > 1 { format!(" (attempt {attempt})") } else { String::new() };
                format!("{t:7.2}s  > {}{at}", key(&node, index))
            }
            Event::NodeSettled { node, index, status, error, .. } => {
                let err = error.map(|e| format!(": {e}")).unwrap_or_default();
                format!("{t:7.2}s  {} {}{err}", key(&node, index), status_mark(status))
            }
            Event::RunFinished { .. } => continue,
        };
        if tty {
            eprintln!("{line}");
        } else {
            eprintln!("{}", line.trim_start());
        }
    }
}

fn key(node: &str, index: Option<usize>) -> String {
    deckle_orchestrator::record::instance_key(node, index)
}

fn print_table(o: &RunOutcome, mirror: &Mirror) {
    let rows: Vec<[String; 5]> = o
        .nodes
        .iter()
        .map(|n| {
            let last = n.attempts.last();
            [
                n.key(),
                status_mark(n.status).to_string(),
                if n.items.is_some() { format!("{} items", n.items.unwrap_or(0)) } else { n.attempts.len().to_string() },
                last.and_then(|a| a.duration_secs).map_or(String::from("-"), |d| format!("{d:.2}s")),
                last.and_then(|a| a.notebook.as_deref()).map_or_else(|| "-".into(), |p| mirror.url(std::path::Path::new(p))),
            ]
        })
        .collect();
    let head = ["NODE", "STATUS", "ATTEMPTS", "DURATION", "OUTPUT NOTEBOOK"];
    let mut w = head.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |c: [&str; 5]| format!("{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}", c[0], c[1], c[2], c[3], c[4], w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3]);
    println!("{}", line(head));
    for r in &rows {
        println!("{}", line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
        if let Some(err) = o.nodes.iter().find(|n| n.key() == r[0]).and_then(|n| n.error.as_ref()) {
            println!("{:w0$}  error: {err}", "", w0 = w[0]);
        }
    }
    println!("run {} {} (workflow {}, date {})", o.run.id, o.run.status.as_str(), o.run.workflow, o.run.date);
}

pub async fn run(args: RunArgs) -> i32 {
    let loaded = match deckle_dsl::load(&args.file) {
        Ok(l) => l,
        Err(diags) => {
            eprintln!("{diags}");
            return EXIT_INVALID;
        }
    };
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    let wf = loaded.workflow;
    let mut params = Vec::new();
    for p in &args.params {
        match p.split_once('=') {
            Some((k, v)) => params.push((k.trim().to_string(), v.to_string())),
            None => {
                eprintln!("deckle: -p {p:?}: expected NAME=VALUE");
                return EXIT_INVALID;
            }
        }
    }
    let data = args.data.clone().unwrap_or_else(|| std::env::temp_dir().join(format!("deckle-run-{}", &uuid_like())));
    let store = match SledStore::open(&data.join("state")) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("deckle: cannot use the data dir {}: {e}", data.display());
            return EXIT_STORAGE;
        }
    };
    // The store opened, so no other process holds this data dir: a file run still
    // marked running was left by a `deckle run` that died.
    let mirror = match args.artifacts.mirror(&data, Arc::default()).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("deckle: {e}");
            return EXIT_STORAGE;
        }
    };
    match orphans::settle_interrupted(store.as_ref(), &SystemClock, &data, &mirror, orphans::is_orphan_file_run, "the deckle run process that ran it") {
        Ok(settled) if !settled.is_empty() => eprintln!("deckle: settled {} run(s) left running by a deckle run that died: {}", settled.len(), settled.join(", ")),
        Ok(_) => {}
        Err(e) => {
            eprintln!("deckle: cannot use the data dir {}: {e}", data.display());
            return EXIT_STORAGE;
        }
    }
    let cfg = EngineConfig { data_dir: data.clone(), slots: args.workers.max(1), preview_rows: 20 };
    let (tx, rx) = mpsc::unbounded_channel();
    // Notebooks a run that died left staged are sent on now.
    mirror.recover(|_| false);
    let mut executor = LocalExecutor::new(None, args.warm_kernels);
    executor.mirror = mirror.clone();
    let stop_note = executor.stop_note.clone();
    let engine = Engine::new(store, Arc::new(executor), Arc::new(SystemClock), cfg).with_events(tx);
    let viewer = tokio::spawn(show_events(rx, std::io::stderr().is_terminal()));
    // SIGINT (Ctrl-C) and SIGTERM both cancel the run, which then records every
    // running node as cancelled and finishes its notebook (what ran, and why it stopped).
    let signal = Arc::new(std::sync::OnceLock::new());
    let cancel = {
        let signal = signal.clone();
        async move {
            let name = crate::signals::interrupted().await;
            let _ = signal.set(name);
            stop_note.set("Cancelled", format!("deckle run received {name} at {}; the run was cancelled", jiff::Timestamp::now()));
        }
    };
    let outcome = engine.run(&wf, RunRequest { params, date: args.date.clone(), ..Default::default() }, cancel).await;
    drop(engine);
    let _ = viewer.await;
    // Every notebook is in the artifact store before the run says it is done.
    if mirror.enabled() && !mirror.drain(UPLOAD_GRACE).await {
        eprintln!(
            "deckle: {} notebook(s) could not be uploaded to {} within {}s; they are kept in {} and uploaded by the next `deckle run --data {} --artifacts …`",
            mirror.stats().pending,
            mirror.url(&data),
            UPLOAD_GRACE.as_secs(),
            data.display(),
            data.display()
        );
        return EXIT_STORAGE;
    }
    match outcome {
        Ok(o) => {
            if args.json {
                let body = serde_json::json!({"run": o.run, "nodes": o.nodes, "data_dir": data});
                println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
            } else {
                print_table(&o, &mirror);
                if mirror.enabled() {
                    eprintln!("state: {}; notebooks: {}", data.display(), mirror.url(&deckle_orchestrator::artifacts::run_dir(&data, &o.run.workflow, &o.run.date, &o.run.id)));
                } else {
                    eprintln!("state and notebooks: {}", data.display());
                }
            }
            match o.run.status {
                RunStatus::Succeeded => 0,
                RunStatus::Cancelled => crate::signals::exit_code(signal.get().copied().unwrap_or("SIGINT")),
                _ => EXIT_FAILED,
            }
        }
        Err(e) => match e {
            deckle_orchestrator::Error::Input(_) => {
                eprintln!("deckle: {e}");
                EXIT_INVALID
            }
            deckle_orchestrator::Error::Store(_) | deckle_orchestrator::Error::Io { .. } => {
                eprintln!("deckle: the run stopped: the data dir {} cannot be written: {e}; what was recorded before is kept there", data.display());
                EXIT_STORAGE
            }
            _ => {
                eprintln!("deckle: {e}");
                EXIT_FAILED
            }
        },
    }
}

fn uuid_like() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:x}-{}", t, std::process::id())
}
