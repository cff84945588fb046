//! A server process for tests ([`crate::s3`]'s moto, [`crate::azurite`]'s
//! Azurite) on a free loopback port, in a temporary directory of its own that
//! holds its `log` (and any data it keeps). It is watched by a shell that stops it
//! when this test process's end of the shell's stdin closes (the handle dropped, or
//! the process ended, even killed), so no server outlives the tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http;

/// How long [`Server::start`] waits for the server to answer HTTP.
const START_LIMIT: Duration = Duration::from_secs(30);

/// The watchdog: starts the server (the arguments after the first) in the
/// background and stops it (then removes its directory, the first argument) when a
/// TERM arrives, which the watcher sends when this process's end of stdin closes.
/// Waiting on the server (not on stdin) makes the shell exit when it dies on its
/// own, so a failed start shows at once; it then stops the watcher, which must not
/// signal a pid that is no longer its parent shell.
///
/// A server that hangs on its way out is killed after 5 s: the watchdog must not
/// wait on it forever (then [`Daemon`]'s drop kills the shell and the server is
/// orphaned).
const WATCHDOG: &str = r#"
dir=$1
shift
"$@" </dev/null >>"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; i=0; while kill -0 $pid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; kill -9 $pid 2>/dev/null; wait $pid; rm -rf "$dir"; exit 0' TERM
exec 3<&0
{ cat <&3 >/dev/null; kill $$; } &
watcher=$!
wait $pid
code=$?
kill $watcher 2>/dev/null
exit $code
"#;

/// A server program the helpers run, as `scripts/setup.sh --test` installs it.
pub(crate) struct Server {
    /// What failures call it; its directory is `deckle-{name}-{pid}-{port}`
    /// (lowercase) in the temp dir.
    pub(crate) name: &'static str,
    /// Where it is installed, relative to the workspace root.
    pub(crate) program: &'static str,
    /// How setup.sh installs it, for the failure when it did not.
    pub(crate) installed_by: &'static str,
    /// The variable naming a server someone else runs (`http://host:port`), to use
    /// instead of starting one.
    pub(crate) env: &'static str,
}

/// A server at an HTTP endpoint, stopped when this drops if it was started here.
#[derive(Debug)]
pub(crate) struct Daemon {
    /// `http://host:port`, no trailing slash.
    pub(crate) endpoint: String,
    watchdog: Option<Child>,
}

impl Server {
    /// The server [`Server::env`] names, when it is set (and not blank).
    pub(crate) fn named_in_env(&self) -> Option<Daemon> {
        let url = std::env::var(self.env).ok()?;
        (!url.trim().is_empty()).then(|| Daemon::at(url.trim()))
    }

    /// Start it, with the command line `command` adds to the watchdog's given the
    /// program, the port to listen on and the server's directory, and wait until it
    /// answers HTTP with anything at all. There is no skip: a machine without it
    /// fails the test, naming what to run.
    pub(crate) fn start(&self, command: impl Fn(&mut Command, &Path, u16, &Path)) -> Daemon {
        let program = repo_root().join(self.program);
        assert!(
            program.is_file(),
            "no {} at {}: run `scripts/setup.sh --test` ({}), or set {}=http://host:port",
            self.name,
            program.display(),
            self.installed_by,
            self.env
        );
        // A free port can be taken between our probe and the server's bind: try another.
        let mut failures = Vec::new();
        for _ in 0..3 {
            match self.spawn(&program, &command) {
                Ok(d) => return d,
                Err(e) => failures.push(e),
            }
        }
        panic!("{} did not start:\n{}", self.name, failures.join("\n"));
    }

    fn spawn(
        &self,
        program: &Path,
        command: &impl Fn(&mut Command, &Path, u16, &Path),
    ) -> Result<Daemon, String> {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "deckle-{}-{}-{port}",
            self.name.to_ascii_lowercase(),
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut sh = Command::new("/bin/sh");
        sh.arg("-c").arg(WATCHDOG).arg("sh").arg(&dir);
        command(&mut sh, program, port, &dir);
        let child = sh
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("/bin/sh: {e}"))?;
        let mut d = Daemon {
            endpoint: format!("http://127.0.0.1:{port}"),
            watchdog: Some(child),
        };
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if http::send(&d.endpoint, "GET", "/", &[], b"").is_ok() {
                return Ok(d);
            }
            let exited = d
                .watchdog
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() >= deadline {
                let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
                drop(d);
                let _ = std::fs::remove_dir_all(&dir);
                let why = if exited.is_some() {
                    "exited"
                } else {
                    "did not answer within 30 s"
                };
                return Err(format!(
                    "port {port}: {} {why}; its log:\n{}",
                    self.name,
                    tail(&log, 40)
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Daemon {
    /// A server already running at `endpoint` (`http://host:port`): none to stop.
    pub(crate) fn at(endpoint: &str) -> Daemon {
        Daemon {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            watchdog: None,
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let Some(mut child) = self.watchdog.take() else {
            return;
        };
        // Closing stdin is the watchdog's signal to stop the server and remove its files.
        drop(child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_that_exits_fails_the_start_with_its_log() {
        let server = Server {
            name: "exiting server",
            program: "Cargo.toml",
            installed_by: "it is in the repository",
            env: "DECKLE_TEST_UNUSED",
        };
        let failed = std::panic::catch_unwind(|| {
            server.start(|sh, _, _, _| {
                sh.args(["sh", "-c", "echo address in use; exit 3"]);
            })
        })
        .expect_err("a server that exits does not start");
        let why = failed.downcast_ref::<String>().expect("a message");
        assert!(why.starts_with("exiting server did not start:"), "{why}");
        let tries = why
            .matches(": exiting server exited; its log:\naddress in use")
            .count();
        assert_eq!(tries, 3, "three ports tried: {why}");
    }
}
