//! Finding a kernel by name, the way `jupyter_client` does.
//!
//! The runtimed crates' own discovery treats `JUPYTER_PATH` as a single path and
//! ignores the environment prefix, so a kernel installed with `--sys-prefix` in a
//! venv is not found. This module implements `jupyter_core.paths.jupyter_path()`:
//!
//! 1. every entry of `JUPYTER_PATH` (`:`-separated);
//! 2. the user data dir (`JUPYTER_DATA_DIR`, else `$XDG_DATA_HOME/jupyter`, else
//!    `~/.local/share/jupyter`);
//! 3. the environment prefix's `share/jupyter`: `$VIRTUAL_ENV`, `$CONDA_PREFIX`, or
//!    the prefix of the `python3` found on `PATH`;
//! 4. `/usr/local/share/jupyter`, `/usr/share/jupyter`.
//!
//! As in jupyter_core ≥ 5, an environment that is a venv or conda env is searched
//! before the user dir (`JUPYTER_PREFER_ENV_PATH` overrides either way).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::ipykernel_argv::{self, IpykernelArgv};

/// A kernelspec found on disk: `<data dir>/kernels/<name>/kernel.json`.
#[derive(Debug, Clone)]
pub struct KernelSpec {
    /// The kernelspec's name (its directory name).
    pub name: String,
    /// The kernelspec directory (`{resource_dir}` in argv).
    pub dir: PathBuf,
    /// The environment prefix the spec was found under, if any (used to resolve a bare
    /// `python` in argv to that environment's interpreter, as jupyter_client does with
    /// `sys.executable`).
    pub prefix: Option<PathBuf>,
    /// The command line, with `{connection_file}` still in it.
    pub argv: Vec<String>,
    /// `display_name` from kernel.json.
    pub display_name: String,
    /// `language` from kernel.json.
    pub language: String,
    /// Extra environment for the kernel process.
    pub env: HashMap<String, String>,
    /// `"signal"` (default) or `"message"`.
    pub interrupt_mode: String,
}

#[derive(Deserialize)]
struct KernelJson {
    #[serde(default)]
    argv: Vec<String>,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    env: HashMap<String, String>,
    #[serde(default)]
    interrupt_mode: Option<String>,
}

/// One directory to search, with the environment prefix it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct DataDir {
    /// The kernel.json file.
    pub path: PathBuf,
    /// The `VIRTUAL_ENV`/prefix the spec was found under, if any.
    pub prefix: Option<PathBuf>,
}

/// The environment a lookup reads; a seam so tests need not mutate the process env.
pub trait Env {
    /// The variable `key`, if set.
    fn var(&self, key: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

impl<S: std::hash::BuildHasher> Env for HashMap<String, String, S> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).cloned().filter(|v| !v.is_empty())
    }
}

/// The environment prefix: `$VIRTUAL_ENV`, `$CONDA_PREFIX`, else the parent of the
/// `bin/` holding the first `python3` on `PATH`. The flag says whether it is a venv or
/// conda env (and so preferred over the user dir).
fn env_prefix(env: &dyn Env) -> Option<(PathBuf, bool)> {
    if let Some(v) = env.var("VIRTUAL_ENV").or_else(|| env.var("CONDA_PREFIX")) {
        return Some((PathBuf::from(v), true));
    }
    let path = env.var("PATH")?;
    for dir in std::env::split_paths(&path) {
        let exe = dir.join("python3");
        if exe.is_file() {
            // Follow symlinks only to find the directory; a venv's bin/python3 is a
            // symlink to the base interpreter but its prefix is the venv.
            let prefix = dir.parent()?.to_path_buf();
            let is_env = prefix.join("pyvenv.cfg").is_file() || prefix.join("conda-meta").is_dir();
            return Some((prefix, is_env));
        }
    }
    None
}

/// The data directories searched for `kernels/`, in priority order.
pub fn data_dirs(env: &dyn Env) -> Vec<DataDir> {
    let mut out: Vec<DataDir> = Vec::new();
    let mut push = |path: PathBuf, prefix: Option<PathBuf>| {
        if !out.iter().any(|d| d.path == path) {
            out.push(DataDir { path, prefix });
        }
    };
    if let Some(jp) = env.var("JUPYTER_PATH") {
        for p in std::env::split_paths(&jp) {
            if !p.as_os_str().is_empty() {
                push(p, None);
            }
        }
    }
    let user = env
        .var("JUPYTER_DATA_DIR")
        .map(PathBuf::from)
        .or_else(|| env.var("XDG_DATA_HOME").map(|x| PathBuf::from(x).join("jupyter")))
        .or_else(|| env.var("HOME").map(|h| PathBuf::from(h).join(".local/share/jupyter")));
    let prefix = env_prefix(env);
    let prefer_env = match env.var("JUPYTER_PREFER_ENV_PATH").as_deref() {
        Some("0" | "false" | "no" | "off") => false,
        Some(_) => true,
        None => prefix.as_ref().is_some_and(|(_, is_env)| *is_env),
    };
    let env_dir = prefix.map(|(p, _)| (p.join("share/jupyter"), p));
    if prefer_env {
        if let Some((d, p)) = env_dir.clone() {
            push(d, Some(p));
        }
    }
    if let Some(u) = user {
        push(u, None);
    }
    if !prefer_env {
        if let Some((d, p)) = env_dir {
            push(d, Some(p));
        }
    }
    push(PathBuf::from("/usr/local/share/jupyter"), None);
    push(PathBuf::from("/usr/share/jupyter"), None);
    out
}

/// Names of the kernels under one data dir, sorted.
fn names_at(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("kernels"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("kernel.json").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// Find kernel `name` in [`data_dirs`]; kernel names are case-insensitive as in
/// jupyter_client.
pub fn find_kernelspec(name: &str, env: &dyn Env) -> Result<KernelSpec> {
    let dirs = data_dirs(env);
    let mut available = Vec::new();
    for d in &dirs {
        for n in names_at(&d.path) {
            if n.eq_ignore_ascii_case(name) {
                return load(&n, &d.path.join("kernels").join(&n), d.prefix.clone());
            }
            if !available.contains(&n) {
                available.push(n);
            }
        }
    }
    Err(Error::UnknownKernel {
        name: name.to_string(),
        available,
        searched: dirs.into_iter().map(|d| d.path).collect(),
    })
}

fn load(name: &str, dir: &Path, prefix: Option<PathBuf>) -> Result<KernelSpec> {
    let file = dir.join("kernel.json");
    let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
    let spec: KernelJson = serde_json::from_str(&text)
        .map_err(|e| Error::input(&file, format!("not a valid kernelspec: {e}")))?;
    if spec.argv.is_empty() {
        return Err(Error::input(&file, "kernelspec has an empty argv"));
    }
    Ok(KernelSpec {
        name: name.to_string(),
        dir: dir.to_path_buf(),
        prefix,
        argv: spec.argv,
        display_name: spec.display_name,
        language: spec.language,
        env: spec.env,
        interrupt_mode: spec.interrupt_mode.unwrap_or_else(|| "signal".into()),
    })
}

impl KernelSpec {
    /// The command line with `{connection_file}` and `{resource_dir}` filled in. A bare
    /// `python`/`python3` is resolved to the interpreter of the environment the spec came
    /// from (jupyter_client swaps in `sys.executable` for the same reason: the spec that
    /// ipykernel ships says just `python`). An ipykernel launch gets in-memory history
    /// appended, as nbclient appends it (see [`ipykernel_argv::MEMORY_HISTORY`]).
    pub fn command_line(&self, connection_file: &Path) -> Vec<String> {
        let mut argv: Vec<String> = self.argv.iter().map(|a| ipykernel_argv::fill(a, connection_file, &self.dir)).collect();
        argv[0] = self.interpreter(&argv[0]);
        if let Ok(launch) = self.ipykernel() {
            if !ipykernel_argv::sets_history_file(&launch.app_args) {
                argv.push(ipykernel_argv::MEMORY_HISTORY.to_string());
            }
        }
        argv
    }

    /// How this spec launches ipykernel, its interpreter resolved as in
    /// [`KernelSpec::command_line`]; `Err` says why it does not (or not in a way a
    /// forked kernel can reproduce).
    pub fn ipykernel(&self) -> std::result::Result<IpykernelArgv, String> {
        let mut launch = ipykernel_argv::parse(&self.argv)?;
        launch.interpreter = self.interpreter(&launch.interpreter);
        Ok(launch)
    }

    fn interpreter(&self, argv0: &str) -> String {
        if matches!(argv0, "python" | "python3") {
            if let Some(prefix) = &self.prefix {
                for cand in ["bin/python3", "bin/python"] {
                    let p = prefix.join(cand);
                    if p.is_file() {
                        return p.to_string_lossy().into_owned();
                    }
                }
            }
        }
        argv0.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_spec(root: &Path, name: &str, argv: &str) {
        let d = root.join("kernels").join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("kernel.json"),
            format!(r#"{{"argv": {argv}, "display_name": "{name}", "language": "python"}}"#),
        )
        .unwrap();
    }

    #[test]
    fn jupyter_path_is_split_on_colons_and_searched_first() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        write_spec(b.path(), "k2", r#"["x", "{connection_file}"]"#);
        let env: HashMap<String, String> = [(
            "JUPYTER_PATH".to_string(),
            format!("{}:{}", a.path().display(), b.path().display()),
        )]
        .into();
        let dirs = data_dirs(&env);
        assert_eq!(dirs[0].path, a.path());
        assert_eq!(dirs[1].path, b.path());
        let spec = find_kernelspec("K2", &env).unwrap();
        assert_eq!(spec.name, "k2");
        assert_eq!(spec.command_line(Path::new("/c.json")), vec!["x", "/c.json"]);
    }

    #[test]
    fn venv_prefix_is_found_and_preferred_over_user_dir() {
        let venv = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        write_spec(&venv.path().join("share/jupyter"), "python3", r#"["python", "-f", "{connection_file}"]"#);
        write_spec(&home.path().join(".local/share/jupyter"), "python3", r#"["user-python"]"#);
        std::fs::create_dir_all(venv.path().join("bin")).unwrap();
        std::fs::write(venv.path().join("bin/python3"), "").unwrap();
        let env: HashMap<String, String> = [
            ("VIRTUAL_ENV".to_string(), venv.path().display().to_string()),
            ("HOME".to_string(), home.path().display().to_string()),
        ]
        .into();
        let spec = find_kernelspec("python3", &env).unwrap();
        assert_eq!(spec.prefix.as_deref(), Some(venv.path()));
        // bare `python` resolves to the venv's interpreter
        assert_eq!(spec.command_line(Path::new("/c"))[0], venv.path().join("bin/python3").display().to_string());
    }

    #[test]
    fn an_installed_ipykernel_spec_gets_in_memory_history_and_a_resolved_interpreter() {
        let venv = tempfile::tempdir().unwrap();
        let data = venv.path().join("share/jupyter");
        write_spec(&data, "installed", r#"["/opt/py/bin/python", "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"]"#);
        write_spec(&data, "wheel", r#"["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]"#);
        write_spec(&data, "bash", r#"["python", "-m", "bash_kernel", "-f", "{connection_file}"]"#);
        std::fs::create_dir_all(venv.path().join("bin")).unwrap();
        std::fs::write(venv.path().join("bin/python3"), "").unwrap();
        let env: HashMap<String, String> = [("VIRTUAL_ENV".to_string(), venv.path().display().to_string())].into();
        let installed = find_kernelspec("installed", &env).unwrap();
        assert_eq!(
            installed.command_line(Path::new("/c.json")),
            ["/opt/py/bin/python", "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "/c.json", ipykernel_argv::MEMORY_HISTORY]
        );
        assert_eq!(installed.ipykernel().unwrap().interpreter_flags, ["-Xfrozen_modules=off"]);
        let python = venv.path().join("bin/python3").display().to_string();
        assert_eq!(find_kernelspec("wheel", &env).unwrap().ipykernel().unwrap().interpreter, python);
        // not ipykernel: launched exactly as written
        let bash = find_kernelspec("bash", &env).unwrap();
        assert!(bash.ipykernel().unwrap_err().contains("bash_kernel"));
        assert_eq!(bash.command_line(Path::new("/c.json")), [python.as_str(), "-m", "bash_kernel", "-f", "/c.json"]);
    }

    #[test]
    fn python_on_path_gives_the_prefix() {
        let venv = tempfile::tempdir().unwrap();
        write_spec(&venv.path().join("share/jupyter"), "bashy", r#"["bash"]"#);
        std::fs::create_dir_all(venv.path().join("bin")).unwrap();
        std::fs::write(venv.path().join("bin/python3"), "").unwrap();
        std::fs::write(venv.path().join("pyvenv.cfg"), "").unwrap();
        let env: HashMap<String, String> =
            [("PATH".to_string(), venv.path().join("bin").display().to_string())].into();
        assert!(find_kernelspec("bashy", &env).is_ok());
    }

    #[test]
    fn unknown_kernel_lists_what_exists_and_where_it_looked() {
        let a = tempfile::tempdir().unwrap();
        write_spec(a.path(), "present", r#"["x"]"#);
        let env: HashMap<String, String> =
            [("JUPYTER_PATH".to_string(), a.path().display().to_string())].into();
        let err = find_kernelspec("absent", &env).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("kernel 'absent' not found"), "{msg}");
        assert!(msg.contains("present"), "{msg}");
        assert!(msg.contains(&a.path().display().to_string()), "{msg}");
        assert_eq!(err.exit_code(), crate::error::exit::BAD_INPUT);
    }
}
