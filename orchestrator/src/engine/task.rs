//! One attempt's [`Task`], resolved at dispatch: parameters, SQL and where its
//! output notebook goes.

use deckle_dsl::{Node, NodeKind};
use deckle_protocol::sql::SqlSpec;
use serde_json::{Map, Value};

use crate::artifacts;
use crate::executor::{Task, TaskKind};
use crate::resolve;

use super::state::RunCtx;

/// Everything the executor needs for one attempt; an `Err` is a message naming what
/// could not be resolved.
pub(super) fn build_task(ctx: &RunCtx<'_>, node: &Node, index: Option<usize>, attempt: u32, preview_rows: usize) -> Result<Task, String> {
    let mut c = ctx.context(&node.id);
    c.run["attempt"] = Value::from(attempt);
    if let Some(i) = index {
        c = c.with_item(ctx.states[&node.id].items[i].clone(), i);
    }
    let mut params = Map::new();
    for (name, t) in &node.params {
        let v = t.eval(&c).map_err(|e| format!("param {name}: {e}"))?;
        params.insert(name.clone(), v);
    }
    let output_path = artifacts::output_notebook(&ctx.run_dir, &node.id, index, attempt);
    let workdir = Some(ctx.wf.dir().to_string_lossy().into_owned());
    let (kind, outputs, input_copy_path) = match &node.kind {
        NodeKind::Notebook { path, .. } => (TaskKind::Notebook { path: path.to_string_lossy().into_owned(), hash: None }, node.outputs.clone(), None),
        NodeKind::Wait(_) => return Err(format!("node {} waits; the coordinator watches it, no worker runs it", node.id)),
        NodeKind::Sql(sql) => {
            let engine_name = sql.engine.as_str().to_string();
            let query = resolve::render(&sql.query, &c).map_err(|e| format!("sql query: {e}"))?;
            let save_to = sql.save_to.as_deref().map(|t| resolve::render(t, &c)).transpose().map_err(|e| format!("sql save_to: {e}"))?;
            let connection = ctx.wf.engines.get(&engine_name).cloned().unwrap_or(Value::Null);
            let mut outputs = vec!["row_count".to_string(), "columns".to_string(), "preview".to_string()];
            if save_to.is_some() {
                outputs.push("path".into());
            }
            for o in &node.outputs {
                if !outputs.contains(o) {
                    outputs.push(o.clone());
                }
            }
            let spec = SqlSpec { engine: engine_name, query, save_to, connection, preview_rows };
            let copy = artifacts::generated_input(&ctx.run_dir, &node.id, index, attempt);
            (TaskKind::Sql { spec }, outputs, Some(copy.to_string_lossy().into_owned()))
        }
    };
    Ok(Task {
        run_id: ctx.run_id.clone(),
        workflow: ctx.wf.id.clone(),
        node: node.id.clone(),
        index,
        attempt,
        kind,
        params,
        secret_env: ctx.secret_env.clone(),
        secret_params: ctx.wf.params.iter().filter(|(_, p)| p.secret).map(|(k, _)| k.clone()).collect(),
        outputs,
        kernel: node.kernel.clone(),
        timeout_secs: node.timeout.map(|d| d.as_secs_f64()),
        output_path: output_path.to_string_lossy().into_owned(),
        input_copy_path,
        cwd: workdir,
        labels: node.labels.clone(),
    })
}
