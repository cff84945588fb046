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
use deckle_worker::execute::ExecuteOptions;
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

impl Failed {
    /// Says it on stderr; the exit code.
    pub fn report(self) -> i32 {
        eprintln!("deckle: {}", self.0);
        self.1
    }
}

/// `path` as a location in object storage, or `None` for a local path (and `-`).
fn remote(path: &str) -> Result<Option<Location>, Failed> {
    if path == "-" {
        return Ok(None);
    }
    let loc: Location = path.parse()?;
    Ok((!loc.is_local()).then_some(loc))
}

fn options() -> Options {
    Options { endpoint: std::env::var("DECKLE_ARTIFACTS_ENDPOINT").ok().filter(|e| !e.is_empty()), ..Options::default() }
}

/// The notebooks of one `deckle execute` as the executor sees them: the paths as
/// given when they are local, copies in a scratch directory when they are in
/// object storage.
pub struct Staging {
    /// Where the input was fetched to, if it was.
    input: Option<PathBuf>,
    /// The output's location, if in object storage.
    output: Option<Location>,
    upload: Option<Output>,
    /// Lives as long as the command.
    scratch: Option<tempfile::TempDir>,
}

impl Staging {
    /// Parses both paths and fetches an input in object storage.
    pub async fn new(input: &str, output: &str) -> Result<Staging, Failed> {
        let (input, output) = (remote(input)?, remote(output)?);
        let scratch = match input.is_some() || output.is_some() {
            true => Some(tempfile::Builder::new().prefix("deckle-execute-").tempdir().map_err(|e| Failed(format!("cannot make a temporary directory: {e}"), deckle_worker::error::exit::BAD_INPUT))?),
            false => None,
        };
        let input = match (&input, &scratch) {
            (Some(loc), Some(dir)) => Some(fetch(loc, dir.path()).await?),
            _ => None,
        };
        Ok(Staging { input, output, upload: None, scratch })
    }

    /// The input notebook to read: the fetched copy, or `given`.
    pub fn input<'a>(&'a self, given: &'a str) -> &'a std::path::Path {
        self.input.as_deref().unwrap_or(std::path::Path::new(given))
    }

    /// Points `opts` (made with the paths as given) at the staged files, which the
    /// notebook does not record, and starts the uploads of an output in object storage.
    pub async fn point(&mut self, opts: &mut ExecuteOptions) -> Result<(), Failed> {
        let Some(dir) = &self.scratch else { return Ok(()) };
        let given = (opts.input.to_string_lossy().into_owned(), opts.output.as_ref().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default());
        if let Some(p) = &self.input {
            opts.input = p.clone();
        }
        if let Some(loc) = &self.output {
            let (out, saved) = Output::start(loc, dir.path()).await?;
            opts.output = Some(out.local.clone());
            opts.saved = Some(saved);
            self.upload = Some(out);
        }
        opts.recorded_paths = Some(given);
        Ok(())
    }

    /// After the run (`code`, its exit code) and once the executor's options are
    /// dropped: uploads the notebook as it ended. The exit code to return.
    pub async fn finish(self, code: i32) -> i32 {
        let Some(out) = self.upload else { return code };
        let url = out.url();
        match out.finish().await {
            Ok(n) => {
                tracing::info!(url, uploads = n, "output notebook uploaded");
                code
            }
            Err(Failed(m, c)) => {
                eprintln!("deckle: the output notebook could not be uploaded: {m}");
                if code == 0 {
                    c
                } else {
                    code
                }
            }
        }
    }
}

/// Fetches the input notebook at `loc` into `dir`, keeping its file name.
async fn fetch(loc: &Location, dir: &std::path::Path) -> Result<PathBuf, Failed> {
    let (store, key) = Store::open_object(loc, &options())?;
    let body = store.get(&key).await?;
    let path = dir.join(format!("input-{key}"));
    std::fs::write(&path, body).map_err(|e| Failed(format!("{}: {e}", path.display()), deckle_worker::error::exit::BAD_INPUT))?;
    Ok(path)
}

/// The output notebook bound for object storage: a local file the executor
/// saves, and the uploads that follow it.
struct Output {
    store: Store,
    key: String,
    /// The local file the executor writes.
    local: PathBuf,
    uploads: Arc<AtomicUsize>,
    uploader: Option<Uploader>,
}

impl Output {
    /// Stages `loc` in `dir`; checks at once that the store can be reached with
    /// these credentials (papermill, too, fails before running anything then).
    async fn start(loc: &Location, dir: &std::path::Path) -> Result<(Output, watch::Sender<u64>), Failed> {
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
    async fn finish(mut self) -> Result<usize, Failed> {
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
    fn url(&self) -> String {
        self.store.url(&self.key)
    }
}
