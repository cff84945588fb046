//! Where output notebooks live:
//! `DIR/artifacts/<workflow>/<date>/<run id>/<node>[.<index>].<attempt>.ipynb`.

use std::path::{Path, PathBuf};

/// `path`, an attempt's notebook under some coordinator's data dir
/// (`…/artifacts/<workflow>/<date>/<run>/<file>`), under `data` instead: a lease
/// granted by another coordinator sharing the database names its own data dir.
pub fn rebase(data: &Path, path: &str) -> PathBuf {
    let parts: Vec<&std::ffi::OsStr> = Path::new(path).iter().collect();
    match parts.len().checked_sub(5) {
        Some(at) if parts[at] == "artifacts" && !Path::new(path).starts_with(data) => parts[at..].iter().fold(data.to_path_buf(), |p, c| p.join(c)),
        _ => PathBuf::from(path),
    }
}

/// The folder of one run's artifacts: `<data>/runs/<workflow>/<date>/<run id>`.
pub fn run_dir(data: &Path, workflow: &str, date: &str, run_id: &str) -> PathBuf {
    data.join("artifacts").join(workflow).join(date).join(run_id)
}

/// The output notebook of one attempt of a node (or foreach instance) in `run_dir`.
pub fn output_notebook(run_dir: &Path, node: &str, index: Option<usize>, attempt: u32) -> PathBuf {
    run_dir.join(format!("{}.{attempt}.ipynb", crate::record::instance_key(node, index)))
}

/// The generated input of a SQL node, kept beside its output.
pub fn generated_input(run_dir: &Path, node: &str, index: Option<usize>, attempt: u32) -> PathBuf {
    run_dir.join(format!("{}.{attempt}.input.ipynb", crate::record::instance_key(node, index)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notebook_under_another_data_dir_is_rebased_onto_ours() {
        let ours = Path::new("/srv/b");
        assert_eq!(rebase(ours, "/srv/a/artifacts/wf/2026-01-02/r1/n.1.ipynb"), Path::new("/srv/b/artifacts/wf/2026-01-02/r1/n.1.ipynb"));
        assert_eq!(rebase(ours, "/srv/b/artifacts/wf/2026-01-02/r1/n.1.ipynb"), Path::new("/srv/b/artifacts/wf/2026-01-02/r1/n.1.ipynb"));
        assert_eq!(rebase(ours, "/elsewhere/n.1.ipynb"), Path::new("/elsewhere/n.1.ipynb"));
    }

    #[test]
    fn layout_matches_design() {
        let d = run_dir(Path::new("/data"), "wf", "2026-01-02", "r1");
        assert_eq!(output_notebook(&d, "per_region", Some(3), 2), Path::new("/data/artifacts/wf/2026-01-02/r1/per_region.3.2.ipynb"));
        assert_eq!(output_notebook(&d, "audit", None, 1), Path::new("/data/artifacts/wf/2026-01-02/r1/audit.1.ipynb"));
    }
}
