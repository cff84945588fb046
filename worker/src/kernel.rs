//! A running Jupyter kernel: launch from a kernelspec, connect over ZeroMQ, and
//! stop it cleanly (interrupt → `shutdown_request` → kill).
//!
//! Framing and HMAC signing/verification are the runtimed crates' (`jupyter-protocol`
//! builds requests, `jupyter-zmq-client` signs and verifies). Incoming messages are
//! kept as raw JSON ([`KernelMsg`]), like nbclient keeps dicts: outputs go into the
//! notebook exactly as the kernel sent them, and a message with non-UTF-8 bytes
//! (ipykernel encodes lone surrogates with `surrogateescape`) is decoded lossily
//! instead of being dropped.
//!
//! IOPub and shell are each drained by their own task into unbounded channels:
//! ipykernel ≥ 7.3 drops output beyond a 1000-message high-water mark when the
//! client lags, so reading must never wait on notebook bookkeeping.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jupyter_protocol::{
    ConnectionInfo, ExecuteRequest, InterruptRequest, JupyterMessage, KernelInfoRequest,
    ShutdownRequest,
};
use jupyter_zmq_client::{Connection, RawMessage};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;
use tokio::time::{sleep, timeout, Instant};
use tracing::{debug, instrument, warn};
use zeromq::SocketRecv;

use crate::error::{Error, Result};
use crate::kernelspec::KernelSpec;
use crate::zygote::{Proc, Zygote};

/// A message from the kernel, with its content as the kernel sent it.
#[derive(Debug, Clone)]
pub struct KernelMsg {
    /// The message's `msg_type`.
    pub msg_type: String,
    /// The `msg_id` of the request it answers, if any.
    pub parent_msg_id: Option<String>,
    /// The header's `date`, formatted as nbclient records it (`%Y-%m-%dT%H:%M:%S.%fZ`).
    pub date: Option<String>,
    /// The message's content.
    pub content: Value,
}

/// What [`Kernel::next_event`] yields.
#[derive(Debug)]
pub enum KernelEvent {
    /// From the IOPub channel (outputs, status).
    IoPub(KernelMsg),
    /// From the shell channel (replies).
    Shell(KernelMsg),
    /// The kernel process exited.
    Died(String),
}

/// How to launch a kernel.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// The kernel's working directory; default the current one.
    pub cwd: Option<PathBuf>,
    /// Extra environment for the kernel process (secrets reach kernels this way).
    pub env: Vec<(String, String)>,
    /// How long the kernel may take to answer its first `kernel_info_request`.
    pub start_timeout: Duration,
}

impl Default for LaunchOptions {
    fn default() -> Self {
        LaunchOptions { cwd: None, env: Vec::new(), start_timeout: Duration::from_secs(60) }
    }
}

/// Kills a process group when dropped, unless disarmed by taking the pid.
struct GroupKill(Option<i32>);

impl Drop for GroupKill {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Removes the per-kernel socket directory when dropped.
struct SocketDir(PathBuf);

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running kernel, connected over ZeroMQ.
pub struct Kernel {
    /// The kernelspec name.
    pub name: String,
    child: Proc,
    /// A forked kernel's stdout/stderr go here (a child's are piped to the tail).
    log: Option<PathBuf>,
    pid: Option<i32>,
    interrupt_by_message: bool,
    shell: Connection<zeromq::DealerSendHalf>,
    control: Connection<zeromq::DealerSocket>,
    iopub_rx: mpsc::UnboundedReceiver<KernelMsg>,
    shell_rx: mpsc::UnboundedReceiver<KernelMsg>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    output_tail: Arc<Mutex<VecDeque<String>>>,
    exited: Option<String>,
    /// Let go after acknowledging shutdown: not to be killed.
    detached: bool,
    _sockets: SocketDir,
}

const TAIL_LINES: usize = 20;

/// Decode one multipart message: HMAC verified by the runtimed crate, JSON parsed
/// here, lossily if a part is not UTF-8.
fn decode(raw: RawMessage) -> Option<KernelMsg> {
    fn parse(part: &[u8]) -> Value {
        serde_json::from_slice(part)
            .or_else(|_| serde_json::from_str(&String::from_utf8_lossy(part)))
            .unwrap_or(Value::Null)
    }
    let header = parse(raw.jparts.first()?);
    let parent = parse(raw.jparts.get(1)?);
    let content = parse(raw.jparts.get(3)?);
    let msg_type = header.get("msg_type")?.as_str()?.to_string();
    let date = header.get("date").and_then(Value::as_str).map(nbclient_timestamp);
    Some(KernelMsg {
        msg_type,
        parent_msg_id: parent.get("msg_id").and_then(Value::as_str).map(str::to_string),
        date,
        content,
    })
}

/// nbclient reformats header dates with `strftime("%Y-%m-%dT%H:%M:%S.%fZ")`.
fn nbclient_timestamp(date: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(date) {
        Ok(d) => d.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        Err(_) => date.to_string(),
    }
}

fn spawn_reader<S>(mut conn: Connection<S>, tx: mpsc::UnboundedSender<KernelMsg>, channel: &'static str) -> tokio::task::JoinHandle<()>
where
    S: SocketRecv + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            let zmsg = match conn.socket.recv().await {
                Ok(m) => m,
                Err(e) => {
                    debug!(channel, error = %e, "kernel socket closed");
                    return;
                }
            };
            match RawMessage::from_multipart(zmsg, &conn.mac) {
                Ok(raw) => {
                    if let Some(msg) = decode(raw) {
                        if tx.send(msg).is_err() {
                            return;
                        }
                    }
                }
                // A bad signature or a malformed frame is the kernel's (or an
                // intruder's) problem; skip it rather than stop reading.
                Err(e) => warn!(channel, error = %e, "dropping malformed kernel message"),
            }
        }
    })
}

fn spawn_tail<R: AsyncRead + Unpin + Send + 'static>(r: R, tail: Arc<Mutex<VecDeque<String>>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(r).split(b'\n');
        while let Ok(Some(line)) = lines.next_segment().await {
            let line = String::from_utf8_lossy(&line).trim_end().to_string();
            debug!(target: "deckle::kernel_output", "{line}");
            let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
            if t.len() == TAIL_LINES {
                t.pop_front();
            }
            t.push_back(line);
        }
    })
}

impl Kernel {
    /// Launch `spec` and wait until it answers `kernel_info_request` on shell and
    /// its IOPub stream is flowing.
    pub async fn start(spec: &KernelSpec, opts: &LaunchOptions) -> Result<Kernel> {
        Self::start_with(spec, opts, None).await
    }

    /// As [`Kernel::start`], forking the process from `zygote` when given.
    #[instrument(skip_all, fields(kernel = %spec.name, forked = zygote.is_some()))]
    pub async fn start_with(spec: &KernelSpec, opts: &LaunchOptions, zygote: Option<&Zygote>) -> Result<Kernel> {
        let started = Instant::now();
        let deadline = started + opts.start_timeout;
        // IPC sockets in a private directory: parallel kernels never race for TCP
        // ports (a known papermill failure). Unix socket paths are limited to ~108
        // bytes, so keep the directory short.
        let dir = std::env::temp_dir().join(format!("deckle-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let sockets = SocketDir(dir.clone());
        let info = ConnectionInfo {
            transport: jupyter_protocol::connection_info::Transport::IPC,
            ip: dir.join("k").to_string_lossy().into_owned(),
            shell_port: 1,
            iopub_port: 2,
            stdin_port: 3,
            control_port: 4,
            hb_port: 5,
            signature_scheme: "hmac-sha256".into(),
            key: uuid::Uuid::new_v4().to_string(),
            kernel_name: Some(spec.name.clone()),
        };
        let conn_file = dir.join("connection.json");
        let body = serde_json::to_vec(&info).map_err(|e| Error::Protocol(e.to_string()))?;
        std::fs::write(&conn_file, body).map_err(|e| Error::io(&conn_file, e))?;

        let output_tail = Arc::new(Mutex::new(VecDeque::new()));
        let mut tasks = Vec::new();
        let (mut child, pid, log) = match zygote {
            Some(z) => {
                let log = dir.join("kernel.log");
                let mut env: Vec<(String, String)> = spec.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                env.extend(opts.env.iter().cloned());
                let launch = spec.ipykernel().map_err(|why| Error::KernelStart {
                    name: spec.name.clone(),
                    message: format!("cannot be forked: {why}"),
                })?;
                let app_args = launch.kernel_app_args(&conn_file, &spec.dir);
                let pid = z.fork(&app_args, opts.cwd.as_deref(), &env, &log).await?;
                (Proc::forked(pid, &log), Some(pid), Some(log))
            }
            None => {
                let argv = spec.command_line(&conn_file);
                let mut cmd = tokio::process::Command::new(&argv[0]);
                cmd.args(&argv[1..])
                    .envs(&spec.env)
                    .envs(opts.env.iter().map(|(k, v)| (k, v)))
                    // As jupyter_client does: ipykernel polls this pid and exits when
                    // it is gone, so a killed executor never leaves its kernel running.
                    .env("JPY_PARENT_PID", std::process::id().to_string())
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    // Own process group: interrupts and kills reach the kernel's
                    // children too (bash_kernel runs a bash under it).
                    .process_group(0)
                    // Killing is done by `Kernel::drop` (the whole group), which also
                    // knows when a kernel was let go after acknowledging shutdown.
                    .kill_on_drop(false);
                if let Some(cwd) = &opts.cwd {
                    cmd.current_dir(cwd);
                }
                let mut child = cmd.spawn().map_err(|e| Error::KernelStart {
                    name: spec.name.clone(),
                    message: format!("cannot run `{}`: {e}", argv[0]),
                })?;
                let pid = child.id().map(|p| p as i32);
                if let Some(out) = child.stdout.take() {
                    tasks.push(spawn_tail(out, output_tail.clone()));
                }
                if let Some(err) = child.stderr.take() {
                    tasks.push(spawn_tail(err, output_tail.clone()));
                }
                (Proc::Child(child), pid, None)
            }
        };
        // Until the kernel is handed to a `Kernel`, any early return kills it.
        let mut guard = GroupKill(pid);
        let tail = |t: &Arc<Mutex<VecDeque<String>>>| {
            if let Some(log) = &log {
                fill_tail_from_log(t, log);
            }
            format_tail(t)
        };

        // Wait for the kernel to bind its sockets. Connecting earlier would work (zmq
        // retries) but with exponential back-off that overshoots boot by up to ~0.5 s.
        let socket_paths: Vec<PathBuf> = [1, 2, 4].iter().map(|p| dir.join(format!("k-{p}"))).collect();
        loop {
            if socket_paths.iter().all(|p| p.exists()) {
                break;
            }
            if let Some(how) = child.try_exited() {
                sleep(Duration::from_millis(50)).await; // let the tail readers catch up
                return Err(Error::KernelStart {
                    name: spec.name.clone(),
                    message: format!("{how} before it was ready{}", tail(&output_tail)),
                });
            }
            if Instant::now() >= deadline {
                return Err(Error::KernelStartTimeout {
                    name: spec.name.clone(),
                    secs: opts.start_timeout.as_secs_f64(),
                    tail: tail(&output_tail),
                });
            }
            sleep(Duration::from_millis(3)).await;
        }

        debug!(elapsed_ms = started.elapsed().as_millis() as u64, "kernel bound its sockets");
        let session = uuid::Uuid::new_v4().to_string();
        let proto = |e: jupyter_zmq_client::RuntimeError| Error::Protocol(e.to_string());
        let iopub = jupyter_zmq_client::create_client_iopub_connection(&info, "", &session).await.map_err(proto)?;
        let identity = jupyter_zmq_client::peer_identity_for_session(&session).map_err(proto)?;
        let shell = jupyter_zmq_client::create_client_shell_connection_with_identity(&info, &session, identity)
            .await
            .map_err(proto)?;
        let control = jupyter_zmq_client::create_client_control_connection(&info, &session).await.map_err(proto)?;
        let (shell_send, shell_recv) = shell.split();
        let (iopub_tx, iopub_rx) = mpsc::unbounded_channel();
        let (shell_tx, shell_rx) = mpsc::unbounded_channel();
        tasks.push(spawn_reader(iopub, iopub_tx, "iopub"));
        tasks.push(spawn_reader(shell_recv, shell_tx, "shell"));

        guard.0 = None;
        let mut kernel = Kernel {
            name: spec.name.clone(),
            child,
            log,
            pid,
            interrupt_by_message: spec.interrupt_mode == "message",
            shell: shell_send,
            control,
            iopub_rx,
            shell_rx,
            tasks,
            output_tail,
            exited: None,
            detached: false,
            _sockets: sockets,
        };
        kernel.wait_ready(deadline, opts.start_timeout).await?;
        debug!(elapsed_ms = started.elapsed().as_millis() as u64, "kernel ready");
        Ok(kernel)
    }

    /// `kernel_info_request` until a reply arrives on shell *and* some IOPub message
    /// has been seen (a SUB socket misses what is published before its subscription
    /// reaches the kernel; jupyter_client waits the same way).
    async fn wait_ready(&mut self, deadline: Instant, start_timeout: Duration) -> Result<()> {
        let mut replied = false;
        let mut iopub_seen = false;
        while !(replied && iopub_seen) {
            self.send_shell(KernelInfoRequest {}.into()).await?;
            let round = Instant::now() + Duration::from_millis(if replied { 100 } else { 1000 });
            loop {
                let now = Instant::now();
                if now >= deadline {
                    return Err(Error::KernelStartTimeout {
                        name: self.name.clone(),
                        secs: start_timeout.as_secs_f64(),
                        tail: format_tail(&self.output_tail),
                    });
                }
                match timeout(round.min(deadline) - now, self.next_event()).await {
                    Err(_) => break, // resend
                    Ok(KernelEvent::Shell(m)) if m.msg_type == "kernel_info_reply" => {
                        replied = true;
                    }
                    Ok(KernelEvent::IoPub(_)) => iopub_seen = true,
                    Ok(KernelEvent::Shell(_)) => {}
                    Ok(KernelEvent::Died(how)) => {
                        return Err(Error::KernelStart {
                            name: self.name.clone(),
                            message: format!("{how} before it was ready{}", format_tail(&self.output_tail)),
                        })
                    }
                }
                if replied && iopub_seen {
                    break;
                }
            }
        }
        // Drain the idle/busy of any extra kernel_info rounds so they do not leak
        // into the first cell.
        while let Ok(Some(_)) = timeout(Duration::from_millis(1), self.iopub_rx.recv()).await {}
        while self.shell_rx.try_recv().is_ok() {}
        Ok(())
    }

    async fn send_shell(&mut self, msg: JupyterMessage) -> Result<String> {
        let id = msg.header.msg_id.clone();
        self.shell.send(msg).await.map_err(|e| Error::Protocol(format!("sending on shell: {e}")))?;
        Ok(id)
    }

    /// Send an `execute_request`; returns its msg_id (the parent of every reply).
    pub async fn execute(&mut self, code: &str, user_expressions: Option<std::collections::HashMap<String, String>>, silent: bool) -> Result<String> {
        let mut req = ExecuteRequest::new(code.to_string());
        req.silent = silent;
        req.store_history = !silent;
        req.user_expressions = user_expressions;
        req.allow_stdin = false;
        req.stop_on_error = true;
        self.send_shell(req.into()).await
    }

    /// Ask for `kernel_info` again (papermill overwrites `language_info` with the
    /// reply after the cells ran).
    pub async fn kernel_info(&mut self, wait: Duration) -> Option<Value> {
        let id = self.send_shell(KernelInfoRequest {}.into()).await.ok()?;
        let end = Instant::now() + wait;
        loop {
            match timeout(end.saturating_duration_since(Instant::now()), self.next_event()).await {
                Ok(KernelEvent::Shell(m)) if m.parent_msg_id.as_deref() == Some(&id) => {
                    return m.content.get("language_info").cloned();
                }
                Ok(KernelEvent::Died(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// The next message from the kernel, or its death. Cancel-safe.
    pub async fn next_event(&mut self) -> KernelEvent {
        if let Some(how) = &self.exited {
            // Deliver what was already read before reporting the death.
            if let Ok(m) = self.iopub_rx.try_recv() {
                return KernelEvent::IoPub(m);
            }
            if let Ok(m) = self.shell_rx.try_recv() {
                return KernelEvent::Shell(m);
            }
            return KernelEvent::Died(how.clone());
        }
        tokio::select! {
            biased;
            Some(m) = self.iopub_rx.recv() => KernelEvent::IoPub(m),
            Some(m) = self.shell_rx.recv() => KernelEvent::Shell(m),
            how = self.child.wait() => {
                if let Some(log) = &self.log {
                    fill_tail_from_log(&self.output_tail, log);
                }
                // Give the readers a moment to hand over what the kernel sent last.
                sleep(Duration::from_millis(20)).await;
                self.exited = Some(format!("{how}{}", format_tail(&self.output_tail)));
                Box::pin(self.next_event()).await
            }
        }
    }

    /// Interrupt the running cell: `interrupt_request` on control when the spec asks
    /// for message mode, else SIGINT to the kernel's process group.
    pub async fn interrupt(&mut self) {
        if self.interrupt_by_message {
            let _ = self.control.send(InterruptRequest {}.into()).await;
        } else if let Some(pid) = self.pid {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGINT);
        }
    }

    /// Whether the kernel's process is still running.
    pub fn is_alive(&self) -> bool {
        self.exited.is_none()
    }

    /// Stop the kernel: `shutdown_request` on control, then wait up to `exit_wait`
    /// for the process to exit; a kernel that did not acknowledge within `grace`, or
    /// that is still there after `exit_wait` while `may_finish_alone` is false, is
    /// killed with its whole process group.
    ///
    /// With `may_finish_alone`, a kernel that acknowledged is left to finish exiting
    /// on its own: ipykernel acknowledges after terminating its child processes, and
    /// Python's own teardown costs ~0.2 s nobody should wait for. It also polls
    /// `JPY_PARENT_PID`, so it cannot outlive us for long. Never pass it for a kernel
    /// that may still be running a cell (after a timeout): the acknowledgment comes
    /// from its control thread, and the stuck cell would keep it alive.
    #[instrument(skip_all, fields(kernel = %self.name))]
    pub async fn shutdown(mut self, grace: Duration, exit_wait: Duration, may_finish_alone: bool) {
        if self.exited.is_none() {
            let acked = self.request_shutdown(grace).await;
            let exited = timeout(exit_wait, self.child.wait()).await.is_ok();
            if acked && !exited && may_finish_alone {
                debug!("kernel acknowledged shutdown; letting it finish exiting");
                self.pid = None;
                self.detached = true;
            } else if !exited {
                debug!(acked, "kernel still running after shutdown_request; killing it");
            }
        }
        self.kill();
    }

    /// Send `shutdown_request`; true when the kernel acknowledged it in time.
    async fn request_shutdown(&mut self, grace: Duration) -> bool {
        if self.control.send(ShutdownRequest { restart: false }.into()).await.is_err() {
            return false;
        }
        let end = Instant::now() + grace;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            tokio::select! {
                r = timeout(left, self.control.read()) => match r {
                    Ok(Ok(m)) if m.header.msg_type == "shutdown_reply" => return true,
                    Ok(Ok(_)) => {}
                    Ok(Err(_)) | Err(_) => return false,
                },
                _ = self.child.wait() => return true,
            }
        }
    }

    fn kill(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        if !self.detached {
            self.child.start_kill();
        }
        for t in &self.tasks {
            t.abort();
        }
    }

}

impl Drop for Kernel {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A forked kernel writes to a log file; its last lines become the tail.
fn fill_tail_from_log(t: &Arc<Mutex<VecDeque<String>>>, log: &std::path::Path) {
    let text = std::fs::read(log).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let mut t = t.lock().unwrap_or_else(|p| p.into_inner());
    t.clear();
    for line in text.lines().rev().take(TAIL_LINES).collect::<Vec<_>>().into_iter().rev() {
        t.push_back(line.to_string());
    }
}

fn format_tail(t: &Arc<Mutex<VecDeque<String>>>) -> String {
    let t = t.lock().unwrap_or_else(|p| p.into_inner());
    let lines: Vec<&str> = t.iter().map(String::as_str).filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        String::new()
    } else {
        format!("; kernel output ends with: {}", lines[lines.len().saturating_sub(3)..].join(" | "))
    }
}

