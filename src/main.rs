//! `deckle`: the one command-line binary. Thin: argument parsing and wiring; the
//! work lives in the library crates (`deckle-worker` for `execute`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod client;
mod execute_cmd;
mod execute_storage;
mod local_executor;
mod remote_cmds;
mod run_cmd;
mod server_cmd;
mod signals;
mod table;
mod validate_cmd;
mod worker_cmd;

#[derive(Parser)]
#[command(name = "deckle", version, about = "Run Jupyter notebooks as parameterized, scheduled workflows")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Execute one notebook, papermill-compatible: `deckle execute IN.ipynb OUT.ipynb -p name value`.
    Execute(execute_cmd::ExecuteArgs),
    /// Run a whole workflow locally: coordinator and worker in this process.
    ///
    /// Exit codes: 0 the run succeeded; 1 it failed; 2 invalid workflow or params;
    /// 3 the data dir cannot be written (full, read-only); 130 cancelled (Ctrl-C).
    #[command(verbatim_doc_comment)]
    Run(run_cmd::RunArgs),
    /// Check a workflow file; every problem is listed with file, line and column.
    Validate(validate_cmd::ValidateArgs),
    /// Draw a workflow's DAG as Graphviz dot or Mermaid.
    Graph(validate_cmd::GraphArgs),
    /// The coordinator: state, scheduling and the HTTP API workers and the CLI talk to.
    ///
    /// Exit codes: 0 stopped by SIGTERM or Ctrl-C; 1 cannot listen, or a server error;
    /// 2 bad flags or token file; 3 the data dir cannot be opened or written (full,
    /// read-only). While running, a data dir that fills up or turns read-only is
    /// reported at `/api/v1/health` and new work is refused until it recovers.
    #[command(verbatim_doc_comment)]
    Server(server_cmd::ServerArgs),
    /// Take work from a coordinator (`deckle server`) and run it on this machine's kernels.
    Worker(worker_cmd::WorkerArgs),
    /// Register a workflow (and the notebooks it names) with the server, as a new version.
    Register(remote_cmds::RegisterArgs),
    /// List registered workflows: latest version, schedule, next tick, latest run.
    Workflows(remote_cmds::WorkflowsArgs),
    /// Start a run of a registered workflow.
    Trigger(remote_cmds::TriggerArgs),
    /// List runs, newest first.
    Runs(remote_cmds::RunsArgs),
    /// Show a run: its state and one line per node.
    Status(remote_cmds::StatusArgs),
    /// Print what a node attempt wrote (stdout, stderr, errors).
    Logs(remote_cmds::LogsArgs),
    /// Download a node attempt's output notebook, to open and re-run locally.
    Pull(remote_cmds::PullArgs),
    /// Re-run a finished run, from its failed nodes (default) or all of them.
    Rerun(remote_cmds::RerunArgs),
    /// Cancel a running or queued run.
    Cancel(remote_cmds::CancelArgs),
    /// Pause a workflow: no scheduled runs, and triggered runs held, until `deckle unpause`.
    Pause(remote_cmds::PauseArgs),
    /// Resume a paused workflow: its schedule, and the runs its triggers held.
    Unpause(remote_cmds::PauseArgs),
    /// Post a signal: every workflow with a matching `signal:` trigger starts a run.
    Signal(remote_cmds::SignalArgs),
    /// Compare two node attempts (default: with the node's last success): params, outputs, cell by cell.
    Diff(remote_cmds::DiffArgs),
    /// A node's recorded outputs across runs, by logical date (a table, CSV or JSON).
    Outputs(remote_cmds::OutputsArgs),
    /// List received events (signals, upstream runs, files) and the runs they started.
    Events(remote_cmds::EventsArgs),
    /// Run a workflow once per logical date in a range (inclusive), at most N at a time.
    Backfill(remote_cmds::BackfillArgs),
    /// List backfills (`deckle backfills [WORKFLOW]`), or `show ID [--wait]` / `cancel ID` one.
    Backfills(remote_cmds::BackfillsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A worker is a service: what it takes and hands back is worth a line each.
    let default_level = if matches!(cli.command, Command::Worker(_)) { "warn,deckle_worker=info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DECKLE_LOG").unwrap_or_else(|_| default_level.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("deckle: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Execute(args) => execute_cmd::run(args).await,
            Command::Run(args) => run_cmd::run(args).await,
            Command::Validate(args) => validate_cmd::validate(args),
            Command::Graph(args) => validate_cmd::graph(args),
            Command::Server(args) => server_cmd::run(args).await,
            Command::Worker(args) => worker_cmd::run(args).await,
            Command::Register(args) => remote_cmds::register(args).await,
            Command::Workflows(args) => remote_cmds::workflows(args).await,
            Command::Trigger(args) => remote_cmds::trigger(args).await,
            Command::Runs(args) => remote_cmds::runs(args).await,
            Command::Status(args) => remote_cmds::status(args).await,
            Command::Logs(args) => remote_cmds::logs(args).await,
            Command::Pull(args) => remote_cmds::pull(args).await,
            Command::Rerun(args) => remote_cmds::rerun(args).await,
            Command::Cancel(args) => remote_cmds::cancel(args).await,
            Command::Pause(args) => remote_cmds::pause(args).await,
            Command::Unpause(args) => remote_cmds::unpause(args).await,
            Command::Signal(args) => remote_cmds::signal(args).await,
            Command::Events(args) => remote_cmds::events(args).await,
            Command::Outputs(args) => remote_cmds::outputs(args).await,
            Command::Diff(args) => remote_cmds::diff(args).await,
            Command::Backfill(args) => remote_cmds::backfill(args).await,
            Command::Backfills(args) => remote_cmds::backfills(args).await,
        }
    });
    // Do not wait for stray blocking tasks (a stdin reader, a slow kernel reaper).
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
