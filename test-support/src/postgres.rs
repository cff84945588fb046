//! A real PostgreSQL for tests: the server named by `DECKLE_TEST_POSTGRES`
//! (`postgres://user:password@host:port`, no database), else a throwaway cluster
//! started with `initdb` and `postgres` on a free loopback port, as the `postgres`
//! user when the tests run as root. Each test takes its own database from it with
//! [`database`]. There is no skip: a machine with neither fails the test, naming
//! what to install (`scripts/setup.sh --test` installs Debian's `postgresql`).
//!
//! A cluster started here is watched by a shell that stops it when this test
//! process's end closes its stdin, so no server outlives the tests, even when they
//! are killed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::daemon::free_port;

/// A PostgreSQL server for tests.
#[derive(Debug)]
pub struct Cluster {
    /// `postgres://user@127.0.0.1:port` (no database), or `DECKLE_TEST_POSTGRES`.
    pub base: String,
    port: u16,
    dir: Option<PathBuf>,
    watchdog: Mutex<Option<Child>>,
}

/// A fresh, empty database on the tests' shared cluster: its URL.
pub fn database() -> String {
    shared().create_database()
}

/// The cluster this test process shares (started on first use).
pub fn shared() -> &'static Cluster {
    static SHARED: OnceLock<Cluster> = OnceLock::new();
    SHARED.get_or_init(|| match std::env::var("DECKLE_TEST_POSTGRES") {
        Ok(url) if !url.trim().is_empty() => Cluster { base: url.trim().trim_end_matches('/').to_string(), port: 0, dir: None, watchdog: Mutex::new(None) },
        _ => Cluster::start(),
    })
}

fn bindir() -> PathBuf {
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).find(|d| d.join("initdb").is_file() && d.join("postgres").is_file());
    if let Some(d) = on_path {
        return d;
    }
    // Debian keeps the server binaries out of PATH, one directory per major version.
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql").into_iter().flatten().flatten().map(|e| e.path().join("bin")).filter(|b| b.join("initdb").is_file()).collect();
    found.sort_by_key(|b| b.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0));
    found.pop().unwrap_or_else(|| panic!("no PostgreSQL server binaries (initdb, postgres) on PATH or under /usr/lib/postgresql: run scripts/setup.sh --test (Debian's `postgresql`), or set DECKLE_TEST_POSTGRES=postgres://user:password@host:port"))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// `cmd` as the `postgres` user when we are root (PostgreSQL refuses to run as root).
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl Cluster {
    /// Start a cluster of this test's own (for tests that stop and restart it).
    pub fn start() -> Cluster {
        let bin = bindir();
        let dir = std::env::temp_dir().join(format!("deckle-pg-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("cluster dir");
        if is_root() {
            let st = Command::new("chown").arg("postgres:postgres").arg(&dir).status().expect("chown");
            assert!(st.success(), "chown postgres {}: is there a `postgres` user? (Debian's postgresql package makes one)", dir.display());
        }
        let data = dir.join("data");
        let out = as_owner(&bin.join("initdb")).args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale", "C", "-D"]).arg(&data).output().expect("initdb");
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        // `postgres` logs in without a password; any other role needs its own, so
        // tests can see a wrong password refused.
        std::fs::write(data.join("pg_hba.conf"), "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n").expect("pg_hba.conf");
        let port = free_port();
        let c = Cluster { base: format!("postgres://postgres@127.0.0.1:{port}"), port, dir: Some(dir), watchdog: Mutex::new(None) };
        c.resume();
        c
    }

    /// Start (again) the server of a cluster [`Cluster::start`]ed, on the same port.
    pub fn resume(&self) {
        let dir = self.dir.as_ref().expect("a cluster started by the tests");
        let postgres = bindir().join("postgres");
        // The shell stops the server when a line arrives ([`Cluster::stop`]), or when
        // our end of its stdin closes (this process ended), then removes the cluster.
        let script = format!(
            "{} -D {} -p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c max_connections=200 >>{}/log 2>&1 & pid=$!; if read _; then kill -INT $pid; wait $pid; else kill -INT $pid; wait $pid; rm -rf {}; fi",
            postgres.display(),
            dir.join("data").display(),
            self.port,
            dir.display(),
            dir.display(),
            dir.display()
        );
        let child = as_owner(Path::new("/bin/sh")).arg("-c").arg(script).stdin(Stdio::piped()).spawn().expect("start postgres");
        *self.watchdog.lock().unwrap_or_else(|p| p.into_inner()) = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.ready() {
            assert!(Instant::now() < deadline, "postgres did not start on port {}: see {}/log", self.port, dir.display());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stop the server (fast shutdown: connections are cut, commits kept).
    pub fn stop(&self) {
        if let Some(mut child) = self.watchdog.lock().unwrap_or_else(|p| p.into_inner()).take() {
            if let Some(mut stdin) = child.stdin.take() {
                let _ = writeln!(stdin);
            }
            let _ = child.wait();
        }
    }

    fn ready(&self) -> bool {
        psql(&format!("{}/postgres", self.base), "SELECT 1").is_ok()
    }

    /// The port it listens on (0 for `DECKLE_TEST_POSTGRES`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A fresh, empty database: its URL.
    pub fn create_database(&self) -> String {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!("deckle_t{}_{}", std::process::id(), N.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
        psql(&format!("{}/postgres", self.base), &format!("CREATE DATABASE {name}")).unwrap_or_else(|e| panic!("CREATE DATABASE on {}: {e}", self.base));
        format!("{}/{name}", self.base)
    }

    /// Cut every client connection to database `url` (as a failover or a network
    /// fault would).
    pub fn terminate_connections(&self, url: &str) {
        let db = url.rsplit('/').next().unwrap_or_default();
        psql(&format!("{}/postgres", self.base), &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}' AND pid <> pg_backend_pid()")).expect("terminate connections");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Run `sql` with `psql` against `url`: its output, or why it failed.
pub fn psql(url: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql").args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", url, "-c", sql]).stdin(Stdio::null()).output().map_err(|e| format!("psql: {e} (install postgresql-client)"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}
