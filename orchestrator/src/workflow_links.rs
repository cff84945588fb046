//! Links between workflows: which workflows' runs start which (`workflow:`
//! triggers), checked when a version is registered: an upstream must be registered,
//! and no chain of triggers may lead back to the workflow that starts it.

use deckle_dsl::{TriggerOn, Workflow};

/// The workflows whose runs start `wf` (its `workflow:` triggers), in file order,
/// with where each trigger is written.
pub fn upstreams(wf: &Workflow) -> Vec<(String, (usize, usize))> {
    let mut out: Vec<(String, (usize, usize))> = Vec::new();
    for t in &wf.triggers {
        if let TriggerOn::Workflow { workflow, .. } = &t.on {
            if !out.iter().any(|(w, _)| w == workflow) {
                out.push((workflow.clone(), t.pos));
            }
        }
    }
    out
}

/// The problems with `wf`'s links, given the upstream workflows of every registered
/// workflow (`None`: not registered). `file` names the workflow file in messages.
pub fn check(wf: &Workflow, file: &str, upstreams_of: impl Fn(&str) -> Option<Vec<String>>) -> Vec<String> {
    let mut problems = Vec::new();
    for (up, (line, col)) in upstreams(wf) {
        let Some(its) = upstreams_of(&up) else {
            problems.push(format!("{file}:{line}:{col}: trigger `workflow: {up}` of workflow `{}` names workflow `{up}`, which is not registered (register `{up}` first)", wf.id));
            continue;
        };
        // Walk upstream from `up`: reaching `wf` again means runs would start each other forever.
        let mut path = vec![wf.id.clone(), up.clone()];
        if let Some(cycle) = walk(&wf.id, &its, &mut path, &upstreams_of, 0) {
            let shown = cycle.iter().rev().cloned().collect::<Vec<_>>().join(" → ");
            problems.push(format!(
                "{file}:{line}:{col}: trigger `workflow: {up}` of workflow `{}` forms a cycle between workflows: {shown} (each one's runs would start the next, forever)",
                wf.id
            ));
        }
    }
    problems
}

/// A path from the last of `path` back to `target`, through upstream links.
fn walk(target: &str, ups: &[String], path: &mut Vec<String>, upstreams_of: &impl Fn(&str) -> Option<Vec<String>>, depth: usize) -> Option<Vec<String>> {
    if depth > 64 {
        return None; // registered workflows hold no cycle, so this is a very long chain
    }
    for u in ups {
        if path.contains(u) && u != target {
            continue;
        }
        path.push(u.clone());
        if u == target {
            return Some(path.clone());
        }
        if let Some(next) = upstreams_of(u) {
            if let Some(c) = walk(target, &next, path, upstreams_of, depth + 1) {
                return Some(c);
            }
        }
        path.pop();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn wf(text: &str) -> Workflow {
        let dir = tempfile::tempdir().unwrap();
        let nb = r#"{"cells":[],"metadata":{},"nbformat":4,"nbformat_minor":5}"#;
        std::fs::write(dir.path().join("n.ipynb"), nb).unwrap();
        deckle_dsl::parse_str(text, &dir.path().join("wf.yaml")).unwrap().workflow
    }

    #[test]
    fn unknown_upstreams_and_cycles_name_both_workflows() {
        let a = wf("workflow: a\ntriggers:\n  - workflow: b\nnodes:\n  n: { notebook: n.ipynb }\n");
        let none = check(&a, "a.yaml", |_| None);
        assert_eq!(none.len(), 1);
        assert!(none[0].starts_with("a.yaml:3:5:") && none[0].contains("`b`, which is not registered"), "{none:?}");
        // b is started by a: registering a (started by b) closes the loop.
        let reg: HashMap<&str, Vec<String>> = HashMap::from([("b", vec!["a".to_string()])]);
        let cyc = check(&a, "a.yaml", |id| reg.get(id).cloned());
        assert_eq!(cyc.len(), 1, "{cyc:?}");
        assert!(cyc[0].contains("a → b → a") || cyc[0].contains("b → a"), "{cyc:?}");
        assert!(cyc[0].contains("workflow `a`") && cyc[0].contains("workflow: b"), "{cyc:?}");
        // A longer loop through c.
        let reg: HashMap<&str, Vec<String>> = HashMap::from([("b", vec!["c".to_string()]), ("c", vec!["a".to_string()])]);
        let cyc = check(&a, "a.yaml", |id| reg.get(id).cloned());
        assert!(cyc[0].contains('c'), "{cyc:?}");
        // A chain without a loop is fine.
        let reg: HashMap<&str, Vec<String>> = HashMap::from([("b", vec!["c".to_string()]), ("c", vec![])]);
        assert!(check(&a, "a.yaml", |id| reg.get(id).cloned()).is_empty());
    }
}
