//! Forking fresh kernels from a process that has already imported ipykernel.
//!
//! Most of an ipykernel boot is Python importing ipykernel and IPython (~0.3 s of
//! CPU). A [`Zygote`] is the kernelspec's own interpreter, started with the spec's
//! own interpreter flags, with those imports done; each kernel is a `fork` of it that
//! then initializes exactly as `python FLAGS -m ipykernel_launcher ARGS` would, ARGS
//! being the spec's kernel-app arguments. It serves every kernelspec that launches
//! ipykernel (see [`crate::ipykernel_argv`]); anything else boots the normal way.
//! Kernels are never reused: every fork is a new process that no notebook has touched.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::sync::Mutex;

use crate::error::{Error, Result};
use crate::kernelspec::KernelSpec;

const SOURCE: &str = include_str!("zygote.py");

/// What makes two zygotes interchangeable: the same interpreter, started with the
/// same flags and the same kernelspec environment. Kernel-app arguments, working
/// directory and launch environment are given to each fork, so they are not part of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ZygoteKey {
    /// The kernelspec's Python interpreter.
    pub interpreter: String,
    /// Its interpreter flags (before `-m ipykernel_launcher`).
    pub interpreter_flags: Vec<String>,
    /// The kernelspec's environment.
    pub env: BTreeMap<String, String>,
}

impl ZygoteKey {
    /// The key for `spec`'s kernels; `Err` says why they cannot be forked.
    pub fn of(spec: &KernelSpec) -> std::result::Result<ZygoteKey, String> {
        let launch = spec.ipykernel()?;
        Ok(ZygoteKey {
            interpreter: launch.interpreter,
            interpreter_flags: launch.interpreter_flags,
            env: spec.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        })
    }
}

struct Io {
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

/// A process that forks ready-to-initialize ipykernel kernels.
pub struct Zygote {
    io: Mutex<Io>,
    _child: Child,
}

impl std::fmt::Debug for Zygote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Zygote").field("pid", &self._child.id()).finish()
    }
}

impl Zygote {
    /// Start a zygote for `key` (`kernel` names it in errors), and wait for its imports.
    pub async fn start(key: &ZygoteKey, kernel: &str, within: Duration) -> Result<Zygote> {
        let python = &key.interpreter;
        let err = |message: String| Error::KernelStart { name: kernel.to_string(), message };
        let mut child = tokio::process::Command::new(python)
            .args(&key.interpreter_flags)
            .arg("-c")
            .arg(SOURCE)
            .envs(&key.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Dropping the zygote closes its stdin, and it exits; its kernels follow
            // through their JPY_PARENT_PID poller.
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| err(format!("cannot run `{python}` for the kernel zygote: {e}")))?;
        let stdin = child.stdin.take().ok_or_else(|| err("zygote has no stdin".into()))?;
        let stdout = child.stdout.take().ok_or_else(|| err("zygote has no stdout".into()))?;
        let mut io = Io { stdin, stdout: BufReader::new(stdout).lines() };
        match tokio::time::timeout(within, io.stdout.next_line()).await {
            Ok(Ok(Some(line))) if line.contains("ready") => Ok(Zygote { io: Mutex::new(io), _child: child }),
            Ok(_) => Err(err("the kernel zygote exited while importing ipykernel".into())),
            Err(_) => Err(err("the kernel zygote did not finish importing ipykernel in time".into())),
        }
    }

    /// Fork a kernel that runs the kernel app with `app_args` (placeholders filled);
    /// returns its pid (also its process group).
    pub async fn fork(&self, app_args: &[String], cwd: Option<&Path>, env: &[(String, String)], log: &Path) -> Result<i32> {
        let env: serde_json::Map<String, Value> = env.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        let req = json!({
            "argv": app_args,
            "cwd": cwd,
            "env": env,
            "log": log,
        });
        let mut io = self.io.lock().await;
        let gone = |what: &str| Error::Protocol(format!("kernel zygote {what}"));
        io.stdin.write_all(format!("{req}\n").as_bytes()).await.map_err(|_| gone("is gone"))?;
        io.stdin.flush().await.map_err(|_| gone("is gone"))?;
        let line = io.stdout.next_line().await.map_err(|_| gone("is gone"))?.ok_or_else(|| gone("exited"))?;
        let answer: Value = serde_json::from_str(&line).map_err(|_| gone("answered nonsense"))?;
        match answer.get("pid").and_then(Value::as_i64) {
            Some(pid) => Ok(pid as i32),
            None => Err(gone(&format!("could not fork: {}", answer.get("error").and_then(Value::as_str).unwrap_or("?")))),
        }
    }
}

/// A kernel process: our child, or a fork of a zygote.
pub(crate) enum Proc {
    Child(Child),
    /// A fork of a zygote: its pid, the file the zygote writes its exit status to,
    /// and when the pid was first seen gone.
    Forked { pid: i32, exit_file: std::path::PathBuf, gone_at: Option<std::time::Instant> },
}

fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

/// How long after a forked kernel's pid is gone its exit status may take to appear.
const EXIT_FILE_GRACE: Duration = Duration::from_millis(500);

/// How a kernel process ended, in the words of its error messages.
pub(crate) fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (_, Some(sig)) => {
            let name = nix::sys::signal::Signal::try_from(sig).map(|s| s.as_str().to_string()).unwrap_or_else(|_| sig.to_string());
            format!("killed by signal {name}")
        }
        (Some(code), _) => format!("exited with status {code}"),
        _ => "exited".into(),
    }
}

/// `code N` / `signal N`, as the zygote writes it, in [`describe_exit`]'s words.
fn describe_exit_file(text: &str) -> Option<String> {
    let (kind, n) = text.trim().split_once(' ')?;
    let n: i32 = n.parse().ok()?;
    Some(match kind {
        "signal" => {
            let name = nix::sys::signal::Signal::try_from(n).map(|s| s.as_str().to_string()).unwrap_or_else(|_| n.to_string());
            format!("killed by signal {name}")
        }
        _ => format!("exited with status {n}"),
    })
}

impl Proc {
    pub(crate) fn forked(pid: i32, log: &Path) -> Proc {
        let mut exit_file = log.as_os_str().to_owned();
        exit_file.push(".exit");
        Proc::Forked { pid, exit_file: exit_file.into(), gone_at: None }
    }

    /// Has it exited? How, when known.
    pub(crate) fn try_exited(&mut self) -> Option<String> {
        match self {
            Proc::Child(c) => c.try_wait().ok().flatten().map(describe_exit),
            Proc::Forked { pid, exit_file, gone_at } => {
                if alive(*pid) {
                    return None;
                }
                if let Some(how) = std::fs::read_to_string(&*exit_file).ok().as_deref().and_then(describe_exit_file) {
                    return Some(how);
                }
                // The zygote writes the status just after reaping; a dead zygote never does.
                let since = *gone_at.get_or_insert_with(std::time::Instant::now);
                (since.elapsed() >= EXIT_FILE_GRACE).then(|| "exited".to_string())
            }
        }
    }

    /// Wait for it to exit. Cancel-safe.
    pub(crate) async fn wait(&mut self) -> String {
        match self {
            Proc::Child(c) => match c.wait().await {
                Ok(s) => describe_exit(s),
                Err(e) => format!("wait failed: {e}"),
            },
            // Not our child: the zygote reaps it; poll until the pid is gone.
            Proc::Forked { .. } => loop {
                if let Some(how) = self.try_exited() {
                    return how;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            },
        }
    }

    pub(crate) fn start_kill(&mut self) {
        match self {
            Proc::Child(c) => {
                let _ = c.start_kill();
            }
            Proc::Forked { pid, .. } => {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}
