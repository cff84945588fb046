//! `deckle execute`: papermill's command line over `deckle_worker::execute`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use crate::execute_storage::Staging;
use deckle_worker::error::exit;
use deckle_worker::execute::{execute_notebook, ExecuteOptions, StreamFiles};
use deckle_worker::help_notebook;
use deckle_worker::params::ParamSources;
use deckle_worker::path_format::format_path;

#[derive(Args, Debug)]
#[command(override_usage = "deckle execute [OPTIONS] NOTEBOOK_PATH [OUTPUT_PATH]", args_override_self = true)]
pub struct ExecuteArgs {
    /// The notebook to run (`-`: standard input). May name parameters: `in_{region}.ipynb`.
    pub input: Option<String>,
    /// Where to write the executed notebook (`-`: standard output, nothing else is
    /// printed there). May name parameters: `out_{region}.ipynb`. Optional when
    /// standard input or output is a pipe, as with papermill.
    pub output: Option<String>,
    /// Print the parameters the notebook's `parameters` cell defines (name, type,
    /// default, comment) and exit.
    #[arg(long)]
    pub help_notebook: bool,
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
    /// Parameters as base64-encoded YAML.
    #[arg(short = 'b', long = "parameters_base64", visible_alias = "parameters-base64", value_name = "BASE64")]
    pub parameters_base64: Vec<String>,
    /// Pass the input notebook's path as the parameter PAPERMILL_INPUT_PATH.
    #[arg(long)]
    pub inject_input_path: bool,
    /// Pass the output notebook's path as the parameter PAPERMILL_OUTPUT_PATH.
    #[arg(long)]
    pub inject_output_path: bool,
    /// Both of the above.
    #[arg(long)]
    pub inject_paths: bool,
    /// Execution engine: only papermill's default (`nbclient`) exists here.
    #[arg(long, value_name = "NAME")]
    pub engine: Option<String>,
    /// Save the output notebook as each cell starts and ends (the default).
    #[arg(long, overrides_with = "no_request_save_on_cell_execute")]
    pub request_save_on_cell_execute: bool,
    /// Write the output notebook only when the run ends.
    #[arg(long)]
    pub no_request_save_on_cell_execute: bool,
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
    #[arg(long, overrides_with = "prepare_execute")]
    pub prepare_only: bool,
    /// Run the notebook (the default).
    #[arg(long)]
    pub prepare_execute: bool,
    /// Hide code cells' source in the output.
    #[arg(long, overrides_with_all = ["no_report_mode", "not_report_mode"])]
    pub report_mode: bool,
    /// Show code cells' source (the default).
    #[arg(long)]
    pub no_report_mode: bool,
    /// papermill 1.x's spelling of --no-report-mode.
    #[arg(long, hide = true)]
    pub not_report_mode: bool,
    /// Print cell output as it arrives.
    #[arg(long, overrides_with = "no_log_output")]
    pub log_output: bool,
    /// Do not print cell output (the default).
    #[arg(long)]
    pub no_log_output: bool,
    /// Also write the notebook's stdout stream to this file, as it arrives.
    #[arg(long, value_name = "FILE")]
    pub stdout_file: Option<PathBuf>,
    /// Also write the notebook's stderr stream to this file, as it arrives.
    #[arg(long, value_name = "FILE")]
    pub stderr_file: Option<PathBuf>,
    /// Accepted for papermill's command lines; Deckle's own logging follows DECKLE_LOG.
    #[arg(long, value_name = "LEVEL", value_parser = ["NOTSET", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])]
    pub log_level: Option<String>,
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
    #[arg(long, visible_alias = "start_timeout", value_name = "SECONDS", default_value_t = 60.0)]
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

/// Standard input is a pipe (papermill's `INPUT_PIPED`: a FIFO, not a file or a terminal).
fn stdin_is_pipe() -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata("/dev/stdin").is_ok_and(|m| m.file_type().is_fifo())
}

/// papermill's reading of the two positional paths: with a piped stdin, a lone
/// path is the output; a missing one is `-`; the output may be left out only when
/// stdin or stdout is a pipe.
fn resolve_paths(input: Option<String>, output: Option<String>, help_notebook: bool) -> Result<(String, String), String> {
    let input_piped = stdin_is_pipe();
    let output_piped = !std::io::stdout().is_terminal();
    if !help_notebook && output.is_none() && !(input_piped || output_piped) {
        return Err("missing argument OUTPUT_PATH (the notebook to write, or `-` for standard output)".into());
    }
    if input.is_none() && !input_piped {
        return Err("missing argument NOTEBOOK_PATH (the notebook to run, or `-` for standard input)".into());
    }
    Ok(match (input, output) {
        (Some(single), None) if input_piped && !help_notebook => ("-".into(), single),
        (input, output) => (input.unwrap_or_else(|| "-".into()), output.unwrap_or_else(|| "-".into())),
    })
}

fn fail(e: &deckle_worker::error::Error) -> i32 {
    eprintln!("deckle: {e}");
    e.exit_code()
}

/// Run `deckle execute`; returns the process exit code.
pub async fn run(args: ExecuteArgs) -> i32 {
    let (input, output) = match resolve_paths(args.input.clone(), args.output.clone(), args.help_notebook) {
        Ok(p) => p,
        Err(m) => {
            eprintln!("deckle: {m}");
            return exit::BAD_INPUT;
        }
    };
    if let Some(engine) = args.engine.as_deref().filter(|e| *e != "nbclient") {
        eprintln!("deckle: unknown engine {engine:?}: Deckle runs notebooks as papermill's default engine (nbclient) does");
        return exit::BAD_INPUT;
    }
    let mut builtin = Vec::new();
    if args.inject_input_path || args.inject_paths {
        builtin.push(("PAPERMILL_INPUT_PATH".to_string(), input.clone()));
    }
    if args.inject_output_path || args.inject_paths {
        builtin.push(("PAPERMILL_OUTPUT_PATH".to_string(), output.clone()));
    }
    let sources = ParamSources {
        builtin,
        base64: args.parameters_base64.clone(),
        files: args.parameters_file.clone(),
        yaml: args.parameters_yaml.clone(),
        typed: pairs(&args.parameters),
        raw: pairs(&args.parameters_raw),
    };
    let params = match sources.merge() {
        Ok(p) => p,
        Err(e) => return fail(&e.into()),
    };
    let paths = format_path(&input, &params, "input path").and_then(|i| Ok((i, format_path(&output, &params, "output path")?)));
    let (input, output) = match paths {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    // Notebooks in object storage are staged in a scratch directory.
    let mut staging = match Staging::new(&input, &output).await {
        Ok(s) => s,
        Err(f) => return f.report(),
    };
    if args.help_notebook {
        let described = if input == "-" {
            Err(deckle_worker::error::Error::input("<stdin>", "--help-notebook needs a notebook path, not standard input"))
        } else {
            help_notebook::describe_file(staging.input(&input), args.kernel.as_deref(), args.language.as_deref())
        };
        return match described {
            Ok((text, code)) => {
                println!("Usage: deckle execute [OPTIONS] NOTEBOOK_PATH [OUTPUT_PATH]");
                print!("{text}");
                code
            }
            Err(e) => fail(&e),
        };
    }
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
    let to_stdout = output == "-";
    let stream_files = match StreamFiles::create(args.stdout_file.as_deref(), args.stderr_file.as_deref()) {
        Ok(f) => f,
        Err(e) => return fail(&e),
    };
    let mut opts = ExecuteOptions::new(&input, &output).with_params(params);
    if let Err(f) = staging.point(&mut opts).await {
        return f.report();
    }
    opts.kernel = args.kernel;
    opts.language = args.language;
    opts.cwd = args.cwd;
    opts.prepare_only = args.prepare_only;
    opts.report_mode = args.report_mode;
    opts.log_output = args.log_output;
    // As papermill: no progress bar when the notebook goes to stdout or output is logged.
    opts.progress_bar = !args.no_progress_bar && !to_stdout && (args.progress_bar || !args.log_output);
    opts.execution_timeout = execution_timeout;
    opts.start_timeout = start_timeout;
    opts.autosave_every = if autosave.is_zero() { Duration::from_secs(u64::MAX / 4) } else { autosave };
    // papermill saves a notebook bound for stdout once, at the end.
    opts.save_on_cell_execute = !args.no_request_save_on_cell_execute && !to_stdout;
    opts.stream_files = stream_files;
    opts.outputs = args.outputs.into_iter().filter(|s| !s.is_empty()).collect();
    if !to_stdout {
        eprintln!("Input Notebook:  {input}");
        eprintln!("Output Notebook: {output}");
    }
    let code = execute(&opts, &args.outputs_file, &output, to_stdout).await;
    drop(opts); // closes the save channel: the partial uploads end
    staging.finish(code).await
}

/// Runs the notebook as `opts` say; the exit code.
async fn execute(opts: &ExecuteOptions, outputs_file: &Option<std::path::PathBuf>, output: &str, to_stdout: bool) -> i32 {
    let note = opts.stop_note.clone();
    let mut execution = Box::pin(execute_notebook(opts));
    let outcome = tokio::select! {
        outcome = &mut execution => outcome,
        name = crate::signals::interrupted() => {
            // Dropping the execution kills the kernel and writes the notebook as it
            // stopped, with this note in the running cell.
            note.set("Cancelled", format!("deckle execute received {name} at {}", jiff::Timestamp::now()));
            drop(execution);
            eprintln!("deckle: stopped by {name}; output notebook: {output}");
            return crate::signals::exit_code(name);
        }
    };
    match outcome {
        Ok(report) => {
            if let Some(path) = outputs_file {
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
                eprintln!("deckle: {}; output notebook: {output}", f.error);
            } else {
                eprintln!("deckle: {}", f.error);
            }
            f.error.exit_code()
        }
    }
}
