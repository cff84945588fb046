//! `deckle execute`: papermill's command line over `deckle_worker::execute`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use deckle_worker::error::exit;
use deckle_worker::execute::{execute_notebook, ExecuteOptions};
use deckle_worker::params::ParamSources;

#[derive(Args, Debug)]
pub struct ExecuteArgs {
    /// The notebook to run.
    pub input: PathBuf,
    /// Where to write the executed notebook (`-` for stdout).
    pub output: PathBuf,
    /// A parameter; the value is parsed as True/False/None/int/float, else kept as a string.
    #[arg(short = 'p', long = "parameters", num_args = 2, allow_hyphen_values = true, value_names = ["NAME", "VALUE"], action = clap::ArgAction::Append)]
    pub parameters: Vec<String>,
    /// A parameter whose value is always a string.
    #[arg(short = 'r', long = "parameters_raw", visible_alias = "parameters-raw", num_args = 2, allow_hyphen_values = true, value_names = ["NAME", "VALUE"], action = clap::ArgAction::Append)]
    pub parameters_raw: Vec<String>,
    /// Parameters as a YAML string.
    #[arg(short = 'y', long = "parameters_yaml", visible_alias = "parameters-yaml", value_name = "YAML")]
    pub parameters_yaml: Vec<String>,
    /// Parameters from a YAML or JSON file.
    #[arg(short = 'f', long = "parameters_file", visible_alias = "parameters-file", value_name = "FILE")]
    pub parameters_file: Vec<PathBuf>,
    /// Kernel to run with (default: the notebook's kernelspec).
    #[arg(short = 'k', long = "kernel")]
    pub kernel: Option<String>,
    /// Language for parameter translation (default: the notebook's).
    #[arg(short = 'l', long = "language")]
    pub language: Option<String>,
    /// Working directory for the kernel.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Write the parameterized notebook without running it.
    #[arg(long)]
    pub prepare_only: bool,
    /// Hide code cells' source in the output.
    #[arg(long)]
    pub report_mode: bool,
    /// Print cell output as it arrives.
    #[arg(long)]
    pub log_output: bool,
    /// Show the per-cell progress bar (the default on a terminal).
    #[arg(long, overrides_with = "no_progress_bar")]
    pub progress_bar: bool,
    /// Hide the progress bar.
    #[arg(long)]
    pub no_progress_bar: bool,
    /// Seconds a cell may run before it is interrupted.
    #[arg(long, value_name = "SECONDS")]
    pub execution_timeout: Option<f64>,
    /// Seconds the kernel may take to start.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub start_timeout: f64,
    /// Save the notebook at least this often during a long cell (0: only at cell start and end).
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub autosave_cell_every: f64,
    /// Variables to read back as JSON after the last cell (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub outputs: Vec<String>,
    /// Write recorded outputs (declared variables and scrapbook scraps) here as JSON.
    #[arg(long, value_name = "FILE")]
    pub outputs_file: Option<PathBuf>,
}

fn pairs(flat: &[String]) -> Vec<(String, String)> {
    flat.chunks(2).map(|c| (c[0].clone(), c.get(1).cloned().unwrap_or_default())).collect()
}

fn seconds(name: &str, s: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s).map_err(|_| format!("{name} must be a non-negative number of seconds, got {s}"))
}

/// Run `deckle execute`; returns the process exit code.
pub async fn run(args: ExecuteArgs) -> i32 {
    let sources = ParamSources {
        files: args.parameters_file.clone(),
        yaml: args.parameters_yaml.clone(),
        typed: pairs(&args.parameters),
        raw: pairs(&args.parameters_raw),
    };
    let params = match sources.merge() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("deckle: {e}");
            return e.exit_code();
        }
    };
    let timeouts = (|| {
        Ok::<_, String>((
            args.execution_timeout.map(|s| seconds("--execution-timeout", s)).transpose()?,
            seconds("--start-timeout", args.start_timeout)?,
            seconds("--autosave-cell-every", args.autosave_cell_every)?,
        ))
    })();
    let (execution_timeout, start_timeout, autosave) = match timeouts {
        Ok(t) => t,
        Err(m) => {
            eprintln!("deckle: {m}");
            return exit::BAD_INPUT;
        }
    };
    let mut opts = ExecuteOptions::new(&args.input, &args.output).with_params(params);
    opts.kernel = args.kernel;
    opts.language = args.language;
    opts.cwd = args.cwd;
    opts.prepare_only = args.prepare_only;
    opts.report_mode = args.report_mode;
    opts.log_output = args.log_output;
    opts.progress_bar = !args.no_progress_bar;
    opts.execution_timeout = execution_timeout;
    opts.start_timeout = start_timeout;
    opts.autosave_every = if autosave.is_zero() { Duration::from_secs(u64::MAX / 4) } else { autosave };
    opts.outputs = args.outputs.into_iter().filter(|s| !s.is_empty()).collect();
    let to_stdout = args.output.as_os_str() == "-";
    if !to_stdout {
        eprintln!("Input Notebook:  {}", args.input.display());
        eprintln!("Output Notebook: {}", args.output.display());
    }

    match execute_notebook(&opts).await {
        Ok(report) => {
            if let Some(path) = &args.outputs_file {
                let body = serde_json::to_string_pretty(&report.recorded).unwrap_or_default();
                if let Err(e) = std::fs::write(path, body + "\n") {
                    eprintln!("deckle: {}: {e}", path.display());
                    return exit::BAD_INPUT;
                }
            }
            0
        }
        Err(f) => {
            let wrote = f.notebook.is_some() && !to_stdout;
            if wrote {
                eprintln!("deckle: {}; output notebook: {}", f.error, args.output.display());
            } else {
                eprintln!("deckle: {}", f.error);
            }
            f.error.exit_code()
        }
    }
}
