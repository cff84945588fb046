//! `deckle validate FILE` and `deckle graph FILE [--format dot|mermaid]`:
//! check a workflow file without running anything, and draw its DAG.
//!
//! Exit codes: 0 valid, 2 invalid (every problem printed to stderr as
//! `file:line:column: error: message`), 3 valid but with warnings under
//! `deckle validate --strict` (which prints them as errors).

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use deckle_dsl::{duration::format_duration, Diagnostic, Diagnostics, Loaded, Severity, Workflow};

const EXIT_INVALID: i32 = 2;
/// `--strict`: no error, but warnings (which it makes errors).
const EXIT_STRICT_WARNINGS: i32 = 3;

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The workflow file (YAML or JSON).
    pub file: PathBuf,
    /// Print the result as JSON on stdout (diagnostics included) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Treat warnings as errors: a workflow with warnings is refused (exit 3 when
    /// warnings are all there is).
    #[arg(long)]
    pub strict: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT (`| dot -Tsvg > dag.svg`).
    Dot,
    /// A Mermaid flowchart (renders in GitHub/GitLab markdown).
    Mermaid,
}

#[derive(Args, Debug)]
pub struct GraphArgs {
    /// The workflow file (YAML or JSON).
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "dot")]
    pub format: GraphFormat,
}

/// Load `file`; with `strict`, warnings become errors. On failure, every
/// diagnostic and the exit code (2 when there is a real error, else 3).
fn load_checked(file: &Path, strict: bool) -> Result<Loaded, (Diagnostics, i32)> {
    let as_error = |d: Diagnostic| Diagnostic { severity: Severity::Error, ..d };
    match deckle_dsl::load(file) {
        Ok(loaded) if strict && !loaded.warnings.is_empty() => {
            Err((Diagnostics(loaded.warnings.into_iter().map(as_error).collect()), EXIT_STRICT_WARNINGS))
        }
        Ok(loaded) => Ok(loaded),
        Err(diags) if strict => Err((Diagnostics(diags.0.into_iter().map(as_error).collect()), EXIT_INVALID)),
        Err(diags) => Err((diags, EXIT_INVALID)),
    }
}

/// Load `file`, printing warnings; on failure print every diagnostic.
fn load(file: &Path, strict: bool) -> Result<Loaded, i32> {
    match load_checked(file, strict) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            Ok(loaded)
        }
        Err((diags, code)) => {
            eprintln!("{diags}");
            let n = diags.errors().count();
            let why = if strict { " (warnings count as errors with --strict)" } else { "" };
            eprintln!("{}: {n} error{} found{why}; nothing was run", file.display(), if n == 1 { "" } else { "s" });
            Err(code)
        }
    }
}

pub fn validate(args: ValidateArgs) -> i32 {
    if args.json {
        return validate_json(&args);
    }
    match load(&args.file, args.strict) {
        Ok(loaded) => {
            print!("{}", summary(&loaded.workflow));
            0
        }
        Err(code) => code,
    }
}

fn validate_json(args: &ValidateArgs) -> i32 {
    let diag = |d: &deckle_dsl::Diagnostic| {
        serde_json::json!({"severity": d.severity.to_string(), "file": d.file, "line": d.line, "column": d.column, "message": d.message})
    };
    let (code, body) = match load_checked(&args.file, args.strict) {
        Ok(l) => {
            let wf = &l.workflow;
            let body = serde_json::json!({
                "valid": true,
                "workflow": wf.id,
                "nodes": wf.nodes.len(),
                "order": wf.topo_order(),
                "params": wf.params.keys().collect::<Vec<_>>(),
                "schedule": wf.schedule.as_ref().map(|s| serde_json::json!({"cron": s.cron.as_str(), "timezone": s.timezone, "catchup": s.catchup})),
                "diagnostics": l.warnings.iter().map(diag).collect::<Vec<_>>(),
            });
            (0, body)
        }
        Err((d, code)) => (code, serde_json::json!({"valid": false, "diagnostics": d.0.iter().map(diag).collect::<Vec<_>>()})),
    };
    println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
    code
}

/// The short text `validate` prints for a valid workflow.
fn summary(wf: &Workflow) -> String {
    let mut out = format!("{}: valid, {} node{}\n", wf.id, wf.nodes.len(), if wf.nodes.len() == 1 { "" } else { "s" });
    if let Some(d) = &wf.description {
        out.push_str(&format!("  description: {d}\n"));
    }
    match &wf.schedule {
        Some(s) => out.push_str(&format!(
            "  schedule:    {} ({}), catchup {}\n",
            s.cron,
            s.timezone,
            if s.catchup { "on" } else { "off" }
        )),
        None => out.push_str("  schedule:    none (runs when triggered)\n"),
    }
    if wf.params.is_empty() {
        out.push_str("  params:      none\n");
    } else {
        let params: Vec<String> = wf
            .params
            .iter()
            .map(|(name, p)| {
                let ty = format!("{:?}", p.ty).to_lowercase();
                match (&p.default, p.secret) {
                    (_, true) => format!("{name}: {ty}, secret"),
                    (Some(d), false) => format!("{name}: {ty} = {d}"),
                    (None, false) => format!("{name}: {ty}, required"),
                }
            })
            .collect();
        out.push_str(&format!("  params:      {}\n", params.join("; ")));
    }
    out.push_str(&format!("  order:       {}\n", wf.topo_order().join(" -> ")));
    for id in wf.topo_order() {
        let n = &wf.nodes[&id];
        let kind = match &n.kind {
            deckle_dsl::NodeKind::Notebook { rel, .. } => rel.clone(),
            deckle_dsl::NodeKind::Sql(sql) => format!("sql ({})", sql.engine),
            deckle_dsl::NodeKind::Wait(w) => format!("wait for {}", deckle_dsl::wait_label(&w.on)),
        };
        let mut extra = Vec::new();
        if !n.needs.is_empty() {
            extra.push(format!("needs {}", n.needs.join(", ")));
        }
        if let Some(w) = &n.when {
            extra.push(format!("when {}", w.source));
        }
        if n.foreach.is_some() {
            extra.push("foreach".to_string());
        }
        if n.retries > 0 {
            extra.push(format!("retries {} every {}", n.retries, format_duration(n.retry_delay)));
        }
        if let Some(t) = n.timeout {
            extra.push(format!("timeout {}", format_duration(t)));
        }
        let extra = if extra.is_empty() { String::new() } else { format!("  [{}]", extra.join("; ")) };
        out.push_str(&format!("    {id}: {kind}{extra}\n"));
    }
    out
}

pub fn graph(args: GraphArgs) -> i32 {
    match load(&args.file, false) {
        Ok(loaded) => {
            let text = match args.format {
                GraphFormat::Dot => deckle_dsl::to_dot(&loaded.workflow),
                GraphFormat::Mermaid => deckle_dsl::to_mermaid(&loaded.workflow),
            };
            print!("{text}");
            0
        }
        Err(code) => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_id_schedule_params_and_order() {
        // SQL nodes need no files, so this test needs no temp dir.
        let yaml = "workflow: w\nschedule: { cron: '0 3 * * *', timezone: UTC }\nparams:\n  n: { type: int, default: 2 }\n  k: { type: string, secret: true }\nnodes:\n  b: { sql: { query: select 1 }, needs: a, retries: 1, retry_delay: 30s }\n  a: { sql: { query: select 2 } }\n";
        let wf = deckle_dsl::parse_str(yaml, std::path::Path::new("w.yaml")).unwrap().workflow;
        let s = summary(&wf);
        assert!(s.starts_with("w: valid, 2 nodes\n"), "{s}");
        assert!(s.contains("schedule:    0 3 * * * (UTC), catchup off"), "{s}");
        assert!(s.contains("params:      n: int = 2; k: string, secret"), "{s}");
        assert!(s.contains("order:       a -> b"), "{s}");
        assert!(s.contains("b: sql (duckdb)  [needs a; retries 1 every 30s]"), "{s}");
    }

    #[test]
    fn strict_makes_warnings_errors_with_their_own_exit_code() {
        let dir = tempfile::tempdir().unwrap();
        let warned = dir.path().join("warned.yaml");
        // `foreach_parallel` without `foreach`: a warning.
        std::fs::write(&warned, "workflow: w\nnodes:\n  a: { sql: { query: select 1 }, foreach_parallel: 2 }\n").unwrap();
        let loaded = load_checked(&warned, false).unwrap();
        assert_eq!(loaded.warnings.len(), 1);
        let (diags, code) = load_checked(&warned, true).unwrap_err();
        assert_eq!(code, EXIT_STRICT_WARNINGS);
        assert_eq!(diags.errors().count(), 1);
        assert!(diags.to_string().contains("warned.yaml:3:34: error: `foreach_parallel` of node `a` has no effect"), "{diags}");
        assert_eq!(validate(ValidateArgs { file: warned.clone(), json: false, strict: true }), EXIT_STRICT_WARNINGS);
        assert_eq!(validate(ValidateArgs { file: warned.clone(), json: true, strict: true }), EXIT_STRICT_WARNINGS);
        assert_eq!(validate(ValidateArgs { file: warned, json: false, strict: false }), 0);
        // A real error wins: exit 2, strict or not.
        let invalid = dir.path().join("invalid.yaml");
        std::fs::write(&invalid, "workflow: w\nnodes:\n  a: { sql: { query: select 1 }, foreach_parallel: 2, needs: b }\n").unwrap();
        let (diags, code) = load_checked(&invalid, true).unwrap_err();
        assert_eq!((code, diags.errors().count()), (EXIT_INVALID, 2));
        assert_eq!(load_checked(&invalid, false).unwrap_err().1, EXIT_INVALID);
        // No warning: strict changes nothing.
        let clean = dir.path().join("clean.yaml");
        std::fs::write(&clean, "workflow: w\nnodes:\n  a: { sql: { query: select 1 } }\n").unwrap();
        assert_eq!(validate(ValidateArgs { file: clean, json: false, strict: true }), 0);
    }
}
