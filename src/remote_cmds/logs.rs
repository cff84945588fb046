//! `deckle logs RUN NODE [--attempt N] [--follow]` and
//! `deckle pull RUN NODE [--attempt N] [-o FILE]`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use deckle_protocol::api::{NodeLog, RunDetail};
use deckle_protocol::record::{NodeRecord, RunStatus};

use super::{emit, print_json, show_reply, strip_ansi, EXIT_CODES};
use crate::client::{Client, ClientError, RemoteArgs, EXIT_FAILED, EXIT_USAGE};

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct LogsArgs {
    /// The run id.
    pub run: String,
    /// The node id (`id.N` for foreach instance N).
    pub node: String,
    /// Which attempt; default: the latest.
    #[arg(long, value_name = "N")]
    pub attempt: Option<u32>,
    /// Keep printing new output until the attempt (without --attempt: the node) finishes.
    /// With --json: one JSON line per poll that brought new text, `text` holding only the new part.
    #[arg(long, short = 'f')]
    pub follow: bool,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Args, Debug)]
#[command(after_help = "Exit codes: 0 done; 1 the file could not be written; 2 bad input, or the server refused the request \
(4xx: no such run, node or attempt, or no notebook written yet); 3 the server is unreachable or failing (5xx); \
4 the server refused the token.")]
pub struct PullArgs {
    /// The run id.
    pub run: String,
    /// The node id (`id.N` for foreach instance N).
    pub node: String,
    /// Which attempt; default: the latest.
    #[arg(long, value_name = "N")]
    pub attempt: Option<u32>,
    /// Where to write the notebook (`-` for stdout); default: `<node>.<attempt>.ipynb` here.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// The node's record in the run, or a not-found error naming it.
async fn node_record(client: &Client, run: &str, node: &str) -> Result<(RunStatus, NodeRecord), ClientError> {
    let d = client.get::<RunDetail>(&["runs", run], &[]).await?.body;
    let status = d.run.status;
    match d.nodes.into_iter().find(|n| n.key() == node) {
        Some(n) => Ok((status, n)),
        None => Err(ClientError::Api {
            status: reqwest::StatusCode::NOT_FOUND,
            error: deckle_protocol::api::ApiError { error: format!("run {run} has no node {node}"), code: "not_found".into(), details: Vec::new() },
        }),
    }
}

/// Log text for stdout: as is on a terminal, without colour codes otherwise.
fn for_stdout(text: &str) -> String {
    if std::io::stdout().is_terminal() {
        text.to_string()
    } else {
        strip_ansi(text)
    }
}

/// The part of `text` not printed yet: everything after `printed` bytes, or all of it
/// when the text was rewritten (it no longer extends what we printed).
fn new_part<'a>(text: &'a str, printed: &str) -> &'a str {
    text.strip_prefix(printed).unwrap_or(text)
}

pub async fn logs(args: LogsArgs) -> i32 {
    let client = match Client::from_args(&args.remote) {
        Ok(c) => c,
        Err(e) => return e.report(),
    };
    let query: Vec<(&str, String)> = args.attempt.iter().map(|n| ("attempt", n.to_string())).collect();
    let path = ["runs", args.run.as_str(), "nodes", args.node.as_str(), "log"];
    if !args.follow {
        return show_reply(client.get::<NodeLog>(&path, &query).await, args.remote.json, |log| for_stdout(&log.text));
    }
    let mut shown: Option<u32> = None;
    let mut printed = String::new();
    let mut said_waiting = false;
    loop {
        match client.get::<NodeLog>(&path, &query).await {
            Ok(reply) => {
                let log = reply.body;
                if shown != Some(log.attempt) {
                    if shown.is_some() && !args.remote.json {
                        eprintln!("--- {} attempt {} ---", args.node, log.attempt);
                    }
                    shown = Some(log.attempt);
                    printed.clear();
                }
                let new = new_part(&log.text, &printed);
                if !new.is_empty() {
                    let written = if args.remote.json {
                        let line = NodeLog { text: new.to_string(), ..log.clone() };
                        emit(&format!("{}\n", serde_json::to_string(&line).unwrap_or_default()))
                    } else {
                        emit(&for_stdout(new))
                    };
                    if !written {
                        return 0; // stdout was closed (`| head`)
                    }
                    printed = log.text.clone();
                }
                if log.finished {
                    if args.attempt.is_some() {
                        return 0;
                    }
                    // The latest attempt finished; another comes only when the node retries.
                    match node_record(&client, &args.run, &args.node).await {
                        Ok((run, n)) if n.status.is_terminal() || run.is_finished() => return 0,
                        Ok(_) => {}
                        Err(e) => return e.report(),
                    }
                }
            }
            Err(e) if e.is_not_found() => {
                // No notebook yet (the node has not started), or no such run/node/attempt.
                match node_record(&client, &args.run, &args.node).await {
                    Ok((run, n)) if !n.status.is_terminal() && !run.is_finished() => {
                        if !said_waiting {
                            eprintln!("no output from {} yet (it is {}); waiting…", args.node, n.status.as_str());
                            said_waiting = true;
                        }
                    }
                    Ok(_) => return e.report(),
                    Err(e) => return e.report(),
                }
            }
            Err(e) => return e.report(),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Write `bytes` to `dest` through a temporary file in the same directory, so a
/// reader never sees half a notebook.
fn write_atomically(dest: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "notebook".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dest)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

pub async fn pull(args: PullArgs) -> i32 {
    let client = match Client::from_args(&args.remote) {
        Ok(c) => c,
        Err(e) => return e.report(),
    };
    let attempt = match args.attempt {
        Some(n) => n,
        None => match node_record(&client, &args.run, &args.node).await {
            Ok((_, n)) => match n.attempts.last() {
                Some(a) => a.n,
                None if n.items.is_some() => {
                    eprintln!("deckle: {} is a foreach node; pull one of its instances ({}.0, {}.1, …)", args.node, args.node, args.node);
                    return EXIT_USAGE;
                }
                None => {
                    eprintln!("deckle: {} has not run yet in run {} (it is {})", args.node, args.run, n.status.as_str());
                    return EXIT_USAGE;
                }
            },
            Err(e) => return e.report(),
        },
    };
    let n = attempt.to_string();
    let bytes = match client.get_bytes(&["runs", &args.run, "nodes", &args.node, "attempts", &n, "notebook"]).await {
        Ok(b) => b,
        Err(e) => return e.report(),
    };
    let to_stdout = args.output.as_deref() == Some(Path::new("-"));
    if to_stdout {
        let mut out = std::io::stdout().lock();
        return match out.write_all(&bytes).and_then(|()| out.flush()) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("deckle: cannot write the notebook to stdout: {e}");
                EXIT_FAILED
            }
        };
    }
    let dest = args.output.clone().unwrap_or_else(|| PathBuf::from(format!("{}.{attempt}.ipynb", args.node)));
    if let Err(e) = write_atomically(&dest, &bytes) {
        eprintln!("deckle: cannot write {}: {e}", dest.display());
        return EXIT_FAILED;
    }
    if args.remote.json {
        print_json(&serde_json::json!({
            "run": args.run, "node": args.node, "attempt": attempt, "path": dest, "bytes": bytes.len(),
        }));
    } else {
        emit(&format!("wrote {} ({} attempt {attempt} of run {}, {} bytes)\n", dest.display(), args.node, args.run, bytes.len()));
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_new_text_is_printed() {
        assert_eq!(new_part("abc\ndef\n", "abc\n"), "def\n");
        assert_eq!(new_part("abc\n", "abc\n"), "");
        assert_eq!(new_part("xyz\n", "abc\n"), "xyz\n", "a rewritten log is printed again");
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a.1.ipynb");
        std::fs::write(&dest, "old").unwrap();
        write_atomically(&dest, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(write_atomically(&dir.path().join("no/such/dir/x.ipynb"), b"x").is_err());
    }
}
