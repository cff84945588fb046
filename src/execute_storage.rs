//! `deckle execute` with notebooks in object storage, as papermill takes them:
//! `deckle execute s3://etl/templates/a.ipynb s3://etl/outputs/a.ipynb`.
//!
//! The input is fetched to a temporary file; the output is written to a temporary
//! file as cells run (the executor is unchanged) and sent on as it is saved:
//! saves made while an upload is in flight fold into the next one, so a notebook
//! of many quick cells costs a few uploads, not one per save. The finished
//! notebook is always uploaded last, whatever the outcome; each upload replaces
//! the object whole, so a reader sees one complete version or the next.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deckle_storage::{Location, Options, Store};
use deckle_worker::remote::upload::Uploader;
use tokio::sync::watch;

/// How long a burst of saves settles before an upload: object storage answers in
/// tens of milliseconds, so partial saves are coalesced harder than to a server.
const SETTLE: Duration = Duration::from_millis(500);

/// `deckle execute`'s exit code when object storage cannot be read or written.
pub const STORAGE_FAILED: i32 = 5;

/// A storage failure as `deckle execute` reports it: the message and exit code.
#[derive(Debug)]
pub struct Failed(pub String, pub i32);

impl From<deckle_storage::Error> for Failed {
    fn from(e: deckle_storage::Error) -> Self {
        let code = if e.is_bad_input() || e.is_not_found() { deckle_worker::error::exit::BAD_INPUT } else { STORAGE_FAILED };
        Failed(e.to_string(), code)
    }
}

/// `path` as a location in object storage, or `None` for a local path (and `-`).
pub fn remote(path: &str) -> Result<Option<Location>, Failed> {
    if path == "-" {
        return Ok(None);
    }
    let loc: Location = path.parse()?;
    Ok((!loc.is_local()).then_some(loc))
}

fn options() -> Options {
    Options { endpoint: std::env::var("DECKLE_ARTIFACTS_ENDPOINT").ok().filter(|e| !e.is_empty()), ..Options::default() }
}

/// A local scratch directory for the staged copies.
pub fn scratch() -> Result<tempfile::TempDir, Failed> {
    tempfile::Builder::new().prefix("deckle-execute-").tempdir().map_err(|e| Failed(format!("cannot make a temporary directory: {e}"), deckle_worker::error::exit::BAD_INPUT))
}

/// Fetches the input notebook at `loc` into `dir`, keeping its file name.
pub async fn fetch(loc: &Location, dir: &std::path::Path) -> Result<PathBuf, Failed> {
    let (store, key) = Store::open_object(loc, &options())?;
    let body = store.get(&key).await?;
    let path = dir.join(format!("input-{key}"));
    std::fs::write(&path, body).map_err(|e| Failed(format!("{}: {e}", path.display()), deckle_worker::error::exit::BAD_INPUT))?;
    Ok(path)
}

/// The output notebook bound for object storage: a local file the executor
/// saves, and the uploads that follow it.
pub struct Output {
    store: Store,
    key: String,
    /// The local file the executor writes.
    pub local: PathBuf,
    uploads: Arc<AtomicUsize>,
    uploader: Option<Uploader>,
}

impl Output {
    /// Stages `loc` in `dir`; checks at once that the store can be reached with
    /// these credentials (papermill, too, fails before running anything then).
    pub async fn start(loc: &Location, dir: &std::path::Path) -> Result<(Output, watch::Sender<u64>), Failed> {
        if !loc.scheme().writable() {
            return Err(deckle_storage::Error::ReadOnly { url: loc.to_string(), scheme: "http(s)://".into() }.into());
        }
        let (store, key) = Store::open_object(loc, &options())?;
        // Reachable, the credentials accepted and the bucket there, before any cell
        // runs (a listing: nothing is written until there is a notebook to write).
        store.check(&key).await?;
        let local = dir.join(format!("output-{key}"));
        let uploads = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = watch::channel(0u64);
        let (s, k, n) = (store.clone(), key.clone(), uploads.clone());
        let uploader = Uploader::spawn(local.clone(), rx, SETTLE, move |body| {
            let (s, k, n) = (s.clone(), k.clone(), n.clone());
            async move {
                s.put(&k, body).await.map_err(|e| deckle_worker::Error::input(s.url(&k), e.to_string()))?;
                n.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        });
        Ok((Output { store, key, local, uploads, uploader: Some(uploader) }, tx))
    }

    /// Stops the partial uploads and uploads the notebook as it ended (when one was
    /// written); returns how many uploads were made in all.
    pub async fn finish(mut self) -> Result<usize, Failed> {
        if let Some(u) = self.uploader.take() {
            u.stop().await;
        }
        let Ok(body) = std::fs::read(&self.local) else {
            return Ok(self.uploads.load(Ordering::Relaxed));
        };
        self.store.put(&self.key, body).await?;
        Ok(self.uploads.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// The object's URL.
    pub fn url(&self) -> String {
        self.store.url(&self.key)
    }
}
