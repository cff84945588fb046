//! A small multi-thread runtime a component keeps for itself (the PostgreSQL store,
//! the artifact mirror): its background work goes on whatever the caller's runtime
//! does, and sync code can wait for its futures from any thread, a runtime's
//! worker included (blocking it, as a read from disk would).

use std::future::Future;

use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinError;

/// The runtime, shut down in the background when dropped.
#[derive(Debug)]
pub struct SideRuntime {
    rt: Option<Runtime>,
    handle: Handle,
}

impl SideRuntime {
    /// Two worker threads named `name`.
    pub fn start(name: &str) -> std::io::Result<SideRuntime> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name(name).enable_all().build()?;
        Ok(SideRuntime { handle: rt.handle().clone(), rt: Some(rt) })
    }

    /// Its handle, to spawn on or enter.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `fut` here and waits for it, from any thread.
    pub fn block<T: Send + 'static>(&self, fut: impl Future<Output = T> + Send + 'static) -> Result<T, JoinError> {
        futures::executor::block_on(self.handle.spawn(fut))
    }
}

impl Drop for SideRuntime {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which a runtime's own thread may not do.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_future_is_waited_for_from_inside_another_runtime_and_dropping_there_is_safe() {
        let side = SideRuntime::start("side-test").unwrap();
        assert_eq!(side.block(async { 6 * 7 }).unwrap(), 42);
        drop(side); // on this runtime's thread: must not panic
    }
}
