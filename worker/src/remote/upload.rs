//! Partial output notebooks, sent on as the executor saves them.
//!
//! The executor bumps a `watch` counter after each save ([`ExecuteOptions::saved`]);
//! the [`Uploader`] waits for a change, lets a burst of saves settle for a moment,
//! reads the file as it is then and sends it. Only the latest version is ever sent
//! (saves made meanwhile fold into the next upload) and at most one upload is in
//! flight. The final notebook is sent by the caller after [`Uploader::stop`].
//!
//! [`ExecuteOptions::saved`]: crate::execute::ExecuteOptions::saved

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::error::{Error, Result};

/// How long a burst of saves (a cell ending, the next starting) gets to settle.
pub const SETTLE: Duration = Duration::from_millis(150);

/// Uploads the latest saved version of an output notebook as it changes.
#[derive(Debug)]
pub struct Uploader {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Uploader {
    /// Send `path` through `put` each time `saved` changes. `put` failing with
    /// [`Error::StaleLease`] ends the uploads (the lease is gone); other failures
    /// are logged and the next save tries again.
    pub fn spawn<F, Fut>(path: PathBuf, mut saved: watch::Receiver<u64>, settle: Duration, mut put: F) -> Self
    where
        F: FnMut(Vec<u8>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<()>> + Send,
    {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    _ = &mut stopped => return,
                    changed = saved.changed() => if changed.is_err() { return },
                }
                tokio::select! {
                    biased;
                    _ = &mut stopped => return,
                    _ = tokio::time::sleep(settle) => {}
                }
                let version = *saved.borrow_and_update();
                let body = match tokio::fs::read(&path).await {
                    Ok(b) => b,
                    Err(e) => {
                        warn!(path = %path.display(), error = %e, "cannot read the saved notebook");
                        continue;
                    }
                };
                match put(body).await {
                    Ok(()) => debug!(version, "partial notebook uploaded"),
                    Err(e @ Error::StaleLease { .. }) => {
                        debug!(error = %e, "stopping uploads");
                        return;
                    }
                    Err(e) => warn!(error = %e, "partial notebook upload failed"),
                }
            }
        });
        Uploader { stop: Some(stop), task }
    }

    /// No more partial uploads; waits for the one in flight, so that nothing sent
    /// after this can overtake it.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Uploader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use tokio::sync::Semaphore;

    use super::*;

    /// What a fake server saw: the bodies, and the most uploads at once.
    #[derive(Default)]
    struct Seen {
        bodies: Mutex<Vec<String>>,
        in_flight: AtomicUsize,
        most_in_flight: AtomicUsize,
    }

    type BoxFut = std::pin::Pin<Box<dyn Future<Output = Result<()>> + Send>>;

    /// An upload that takes until the test opens `gate` (one permit each).
    fn gated_put(seen: Arc<Seen>, gate: Arc<Semaphore>) -> impl FnMut(Vec<u8>) -> BoxFut + Send + 'static {
        move |body| {
            let (seen, gate) = (seen.clone(), gate.clone());
            Box::pin(async move {
                let n = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                seen.most_in_flight.fetch_max(n, Ordering::SeqCst);
                gate.acquire().await.unwrap().forget();
                seen.bodies.lock().unwrap().push(String::from_utf8(body).unwrap());
                seen.in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            })
        }
    }

    /// Save as the executor does (atomically) and say so.
    fn save(path: &std::path::Path, tx: &watch::Sender<u64>, text: &str) {
        crate::remote::cache::write_atomic(path, text.as_bytes()).unwrap();
        tx.send_modify(|n| *n += 1);
    }

    async fn until(what: &str, cond: impl Fn() -> bool) {
        for _ in 0..500 {
            if cond() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {what}");
    }

    /// An uploader whose first upload (of "v1") is in flight, held at the gate.
    struct Rig {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
        tx: watch::Sender<u64>,
        seen: Arc<Seen>,
        gate: Arc<Semaphore>,
        up: Uploader,
    }

    impl Rig {
        async fn first_upload_in_flight() -> Rig {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("out.ipynb");
            let (tx, rx) = watch::channel(0u64);
            let seen = Arc::new(Seen::default());
            let gate = Arc::new(Semaphore::new(0));
            let up = Uploader::spawn(path.clone(), rx, Duration::from_millis(5), gated_put(seen.clone(), gate.clone()));
            save(&path, &tx, "v1");
            until("the first upload", || seen.in_flight.load(Ordering::SeqCst) == 1).await;
            Rig { _dir: dir, path, tx, seen, gate, up }
        }

        fn bodies(&self) -> Vec<String> {
            self.seen.bodies.lock().unwrap().clone()
        }
    }

    #[tokio::test]
    async fn saves_made_during_an_upload_fold_into_one_upload_of_the_latest() {
        let rig = Rig::first_upload_in_flight().await;
        for i in 2..=30 {
            save(&rig.path, &rig.tx, &format!("v{i}"));
        }
        rig.gate.add_permits(100);
        until("two uploads", || rig.bodies().len() == 2).await;
        // Nothing more is pending.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let Rig { up, seen, .. } = rig;
        up.stop().await;
        assert_eq!(*seen.bodies.lock().unwrap(), vec!["v1".to_string(), "v30".to_string()]);
        assert_eq!(seen.most_in_flight.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn stop_waits_for_the_upload_in_flight_and_sends_nothing_after() {
        let Rig { _dir, path, tx, seen, gate, up } = Rig::first_upload_in_flight().await;
        save(&path, &tx, "v2");
        let stopping = tokio::spawn(up.stop());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!stopping.is_finished(), "stop returned while an upload was in flight");
        gate.add_permits(100);
        stopping.await.unwrap();
        assert_eq!(*seen.bodies.lock().unwrap(), vec!["v1".to_string()]);
        assert_eq!(seen.in_flight.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_stale_lease_ends_the_uploads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ipynb");
        std::fs::write(&path, "v").unwrap();
        let (tx, rx) = watch::channel(0u64);
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let up = Uploader::spawn(path, rx, Duration::ZERO, move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            async { Err(Error::StaleLease { lease: "l".into(), message: "gone".into() }) }
        });
        tx.send_modify(|n| *n += 1);
        tokio::time::sleep(Duration::from_millis(100)).await;
        tx.send_modify(|n| *n += 1);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(up.task.is_finished());
    }
}
