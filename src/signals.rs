//! SIGINT and SIGTERM, for the commands that run notebooks in this process: both
//! stop the work, which then finishes its notebooks saying why.

/// The first of SIGINT and SIGTERM to arrive, by name.
pub async fn interrupted() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return "SIGINT";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

/// The exit code of a process ended by `name`, as a shell reports it (128 + signal).
pub fn exit_code(name: &str) -> i32 {
    if name == "SIGTERM" {
        143
    } else {
        130
    }
}
