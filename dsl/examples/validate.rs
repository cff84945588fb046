//! Validate a workflow file and print its DAG:
//! `cargo run -p deckle-dsl --example validate -- FILE [--mermaid]`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(file) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: validate FILE [--mermaid]");
        return ExitCode::from(2);
    };
    match deckle_dsl::load(&PathBuf::from(file)) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            let wf = &loaded.workflow;
            println!("{}: valid, {} nodes, order: {}", wf.id, wf.nodes.len(), wf.topo_order().join(" -> "));
            if args.iter().any(|a| a == "--mermaid") {
                print!("{}", deckle_dsl::to_mermaid(wf));
            } else {
                print!("{}", deckle_dsl::to_dot(wf));
            }
            ExitCode::SUCCESS
        }
        Err(diags) => {
            eprintln!("{diags}");
            ExitCode::from(2)
        }
    }
}
