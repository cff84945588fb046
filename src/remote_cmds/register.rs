//! `deckle register FILE`: validate a workflow locally, then send it and every
//! notebook it names to the server as a new version.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use deckle_protocol::api::{RegisterWorkflow, WorkflowVersion};

use super::{show_reply, EXIT_CODES};
use crate::client::{Client, RemoteArgs, EXIT_USAGE};

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct RegisterArgs {
    /// The workflow file (YAML or JSON); the notebooks it names are sent with it.
    pub file: PathBuf,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// What a registration sends, read from disk; on a local problem, the lines to print.
fn build(file: &std::path::Path) -> Result<RegisterWorkflow, Vec<String>> {
    let loaded = match deckle_dsl::load(file) {
        Ok(l) => l,
        Err(diags) => {
            let n = diags.errors().count();
            return Err(vec![
                diags.to_string(),
                format!("{}: {n} error{} found; nothing was registered", file.display(), if n == 1 { "" } else { "s" }),
            ]);
        }
    };
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    let content = std::fs::read_to_string(file).map_err(|e| vec![format!("deckle: cannot read {}: {e}", file.display())])?;
    let file_name = file
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| vec![format!("deckle: {}: not a file name", file.display())])?
        .to_string();
    let mut files = BTreeMap::new();
    for (rel, path, who) in loaded.workflow.notebooks() {
        let text = std::fs::read_to_string(path).map_err(|e| vec![format!("deckle: {who}: cannot read {}: {e}", path.display())])?;
        files.insert(rel.to_string(), text);
    }
    Ok(RegisterWorkflow { file_name, content, files })
}

pub async fn register(args: RegisterArgs) -> i32 {
    let client = match Client::from_args(&args.remote) {
        Ok(c) => c,
        Err(e) => return e.report(),
    };
    let req = match build(&args.file) {
        Ok(r) => r,
        Err(lines) => {
            for l in lines {
                eprintln!("{}", l.trim_end());
            }
            return EXIT_USAGE;
        }
    };
    let notebooks = req.files.len();
    show_reply(client.post::<_, WorkflowVersion>(&["workflows"], &req).await, args.remote.json, |v| {
        let short = v.hash.get(..12).unwrap_or(&v.hash);
        format!("registered {} version {} ({notebooks} notebook{}, sha256 {short})\n", v.workflow, v.version, if notebooks == 1 { "" } else { "s" })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_the_file_and_each_notebook_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("nb")).unwrap();
        let nb = r#"{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}"#;
        std::fs::write(dir.path().join("nb/a.ipynb"), nb).unwrap();
        let yaml = "workflow: w\nnodes:\n  a: { notebook: nb/a.ipynb }\n  b: { notebook: nb/a.ipynb, needs: a }\n  c: { sql: { query: select 1 } }\n";
        std::fs::write(dir.path().join("wf.yaml"), yaml).unwrap();
        let req = build(&dir.path().join("wf.yaml")).unwrap();
        assert_eq!(req.file_name, "wf.yaml");
        assert_eq!(req.content, yaml);
        assert_eq!(req.files.keys().collect::<Vec<_>>(), ["nb/a.ipynb"]);
        assert_eq!(req.files["nb/a.ipynb"], nb, "sent as written");
    }

    #[test]
    fn an_invalid_workflow_is_reported_locally() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("wf.yaml"), "workflow: w\nnodes:\n  a: { notebook: missing.ipynb }\n").unwrap();
        let lines = build(&dir.path().join("wf.yaml")).unwrap_err();
        assert!(lines.last().unwrap().ends_with("1 error found; nothing was registered"), "{lines:?}");
        assert!(lines[0].contains("missing.ipynb"), "{lines:?}");
    }
}
