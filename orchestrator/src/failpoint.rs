//! Crash points for tests of what a crash between two writes leaves: with
//! `DECKLE_FAILPOINT=<name>` in its environment, the process aborts (as a `kill -9`
//! would stop it) the first time it reaches [`hit`]`(<name>)`. Unset, a hit costs
//! one comparison.

use std::sync::OnceLock;

fn armed() -> Option<&'static str> {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    ARMED.get_or_init(|| std::env::var("DECKLE_FAILPOINT").ok().filter(|s| !s.is_empty())).as_deref()
}

/// Abort here if the failpoint `name` is armed.
pub fn hit(name: &str) {
    if armed() == Some(name) {
        eprintln!("deckle: failpoint {name}: aborting");
        std::process::abort();
    }
}
