//! Run a notebook through the library API, as the orchestrator will:
//!
//! ```text
//! cargo run -p deckle-worker --example execute -- examples/notebooks/region_report.ipynb /tmp/out.ipynb total,passed
//! ```
//! (with the venv active, or `VIRTUAL_ENV` set, so the kernel is found).

use deckle_worker::execute::{execute_notebook, ExecuteOptions};
use deckle_worker::params::ParamValue;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, rest @ ..] = args.as_slice() else {
        eprintln!("usage: execute IN.ipynb OUT.ipynb [output,names]");
        return std::process::ExitCode::from(2);
    };
    let mut opts = ExecuteOptions::new(input, output);
    opts.params.insert("region".into(), ParamValue::Str("fr".into()));
    opts.outputs = rest.first().map(|s| s.split(',').map(String::from).collect()).unwrap_or_default();
    match execute_notebook(&opts).await {
        Ok(report) => {
            println!("{} cells ran in {:.3}s; recorded: {}", report.cells_executed, report.duration, serde_json::to_string(&report.recorded).unwrap_or_default());
            std::process::ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("{}", failure.error);
            std::process::ExitCode::from(failure.error.exit_code() as u8)
        }
    }
}
