//! Group commit, shared by the stores on disk: writes are numbered; a flush that
//! started after a write covers it, so concurrent flushers share one sync instead
//! of queueing one each.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use crate::error::Result;

/// The write and flush counters of one store.
#[derive(Debug, Default)]
pub(super) struct GroupCommit {
    written: AtomicU64,
    flushed: AtomicU64,
    turn: tokio::sync::Mutex<()>,
}

impl GroupCommit {
    /// Count a write; its number.
    pub(super) fn wrote(&self) -> u64 {
        self.written.fetch_add(1, SeqCst) + 1
    }

    /// Writes counted so far.
    pub(super) fn written(&self) -> u64 {
        self.written.load(SeqCst)
    }

    /// Make every write counted before this call durable: wait for the flush in
    /// progress, and run `sync` unless one that began after these writes already
    /// covered them. `sync` answers how many writes it covered ([`Self::written`]
    /// read before it started taking them).
    pub(super) async fn flush<F: Future<Output = Result<u64>>>(&self, sync: impl FnOnce() -> F) -> Result<()> {
        let mine = self.written.load(SeqCst);
        let _turn = self.turn.lock().await;
        if self.flushed.load(SeqCst) >= mine {
            return Ok(());
        }
        let upto = sync().await?;
        self.flushed.fetch_max(upto, SeqCst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn a_flush_started_after_a_write_covers_it_and_the_next_is_skipped() {
        let g = GroupCommit::default();
        let syncs = AtomicUsize::new(0);
        let sync = || async {
            syncs.fetch_add(1, SeqCst);
            Ok(g.written())
        };
        g.wrote();
        g.flush(sync).await.unwrap();
        g.flush(sync).await.unwrap();
        assert_eq!(syncs.load(SeqCst), 1, "nothing new to sync");
        g.wrote();
        g.flush(sync).await.unwrap();
        assert_eq!(syncs.load(SeqCst), 2, "a new write is synced");
    }

    #[tokio::test]
    async fn a_failed_sync_leaves_the_writes_to_the_next_flush() {
        let g = GroupCommit::default();
        g.wrote();
        assert!(g.flush(|| async { Err(crate::error::Error::Store("down".into())) }).await.is_err());
        let synced = AtomicUsize::new(0);
        g.flush(|| async {
            synced.fetch_add(1, SeqCst);
            Ok(g.written())
        })
        .await
        .unwrap();
        assert_eq!(synced.load(SeqCst), 1, "the failed flush covered nothing");
    }
}
