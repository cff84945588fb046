//! `deckle`: the one command-line binary. Thin: argument parsing and wiring; the
//! work lives in the library crates (`deckle-worker` for `execute`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod execute_cmd;
mod local_executor;
mod run_cmd;
mod server_cmd;
mod validate_cmd;

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
    Run(run_cmd::RunArgs),
    /// Check a workflow file; every problem is listed with file, line and column.
    Validate(validate_cmd::ValidateArgs),
    /// Draw a workflow's DAG as Graphviz dot or Mermaid.
    Graph(validate_cmd::GraphArgs),
    /// The coordinator: state, scheduling and the HTTP API workers and the CLI talk to.
    Server(server_cmd::ServerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DECKLE_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
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
        }
    });
    // Do not wait for stray blocking tasks (a stdin reader, a slow kernel reaper).
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
