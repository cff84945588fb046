//! Registered workflows: each registration snapshots the workflow file and every
//! notebook it names. Files are stored content-addressed under `DIR/blobs/<sha256>`
//! (what workers fetch) and laid out per version under
//! `DIR/workflows/<id>/<version>/` (what the engine loads); runs pin a version, so
//! re-registering never changes a run in flight.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use deckle_dsl::Workflow;
use deckle_protocol::api::{RegisterWorkflow, WorkflowVersion};
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::durable;
use crate::error::{Error, Result};
pub use crate::store::WorkflowEntry;
use crate::store::StateStore;

/// Registered workflows: their files under the data dir, versions in the store.
pub struct Registry {
    data_dir: PathBuf,
    store: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
    /// One registration at a time, so versions are numbered without gaps.
    lock: tokio::sync::Mutex<()>,
    loaded: Mutex<HashMap<(String, u32), Arc<Workflow>>>,
    /// With `--artifacts`, every registered file is in the store by hash before the
    /// version exists, so any coordinator on the database can load it.
    mirror: crate::mirror::Mirror,
}

/// The largest notebook a registration may carry.
pub const MAX_NOTEBOOK_BYTES: usize = 16 << 20;

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A path a registration may write: relative, without `..`, and plain.
fn safe_relative(p: &str) -> Result<PathBuf> {
    let path = Path::new(p);
    let ok = !p.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !ok {
        return Err(Error::Input(format!("file path {p:?} must be relative to the workflow file and stay inside its directory")));
    }
    // What the file system would refuse is bad input, not a server failure.
    if p.chars().any(char::is_control) {
        return Err(Error::Input(format!("file path {p:?} contains a control character")));
    }
    if p.len() > 1024 || path.components().any(|c| c.as_os_str().len() > 255) {
        return Err(Error::Input(format!("file path {:?}… is too long (at most 255 bytes a name, 1024 in all)", p.chars().take(64).collect::<String>())));
    }
    Ok(path.to_path_buf())
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Io { path: path.display().to_string(), message: e.to_string() }
}

impl Registry {
    /// A registry keeping files under `data_dir` and versions in `store`.
    pub fn new(data_dir: &Path, store: Arc<dyn StateStore>, clock: Arc<dyn Clock>) -> Self {
        Registry { data_dir: data_dir.to_path_buf(), store, clock, lock: tokio::sync::Mutex::new(()), loaded: Mutex::new(HashMap::new()), mirror: crate::mirror::Mirror::none() }
    }

    /// Keeping every registered file in `mirror`'s store too.
    pub fn with_mirror(mut self, mirror: crate::mirror::Mirror) -> Self {
        self.mirror = mirror;
        self
    }

    /// Writes version `v` of `id`'s directory from the artifact store's blobs, when
    /// this coordinator's data dir lacks it (another one registered it).
    fn materialize(&self, id: &str, v: &WorkflowVersion) -> Result<()> {
        let dest = self.version_dir(id, v.version);
        if dest.join(&v.file_name).exists() || !self.mirror.enabled() {
            return Ok(());
        }
        let staging = self.data_dir.join("tmp").join(uuid::Uuid::new_v4().simple().to_string());
        let files = std::iter::once((v.file_name.as_str(), v.hash.as_str())).chain(v.files.iter().map(|(r, h)| (r.as_str(), h.as_str())));
        for (rel, hash) in files {
            let blob = self.blob(hash)?;
            let to = staging.join(safe_relative(rel)?);
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            std::fs::copy(&blob, &to).map_err(io(&to))?;
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        // Another thread may have made it meanwhile: either copy is the same.
        if std::fs::rename(&staging, &dest).is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        Ok(())
    }

    /// Validate and store a new version.
    pub async fn register(&self, req: &RegisterWorkflow) -> Result<WorkflowVersion> {
        let file_name = safe_relative(&req.file_name)?;
        if file_name.components().count() != 1 {
            return Err(Error::Input(format!("file_name {:?} must be a plain file name", req.file_name)));
        }
        let staging = self.data_dir.join("tmp").join(uuid::Uuid::new_v4().simple().to_string());
        let result = self.register_in(req, &file_name, &staging).await;
        let _ = std::fs::remove_dir_all(&staging);
        result
    }

    async fn register_in(&self, req: &RegisterWorkflow, file_name: &Path, staging: &Path) -> Result<WorkflowVersion> {
        std::fs::create_dir_all(staging).map_err(io(staging))?;
        let wf_path = staging.join(file_name);
        std::fs::write(&wf_path, &req.content).map_err(io(&wf_path))?;
        let mut files = BTreeMap::new();
        for (rel, content) in &req.files {
            if content.len() > MAX_NOTEBOOK_BYTES {
                return Err(Error::Input(format!("{rel} is {} bytes; a registered notebook may be at most {MAX_NOTEBOOK_BYTES}", content.len())));
            }
            let dest = staging.join(safe_relative(rel)?);
            if let Some(dir) = dest.parent() {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            std::fs::write(&dest, content).map_err(io(&dest))?;
            files.insert(rel.clone(), sha256(content.as_bytes()));
        }
        let show = |d: &deckle_dsl::Diagnostic| {
            // Name the file as the user registered it, not our staging directory.
            d.to_string().replace(&format!("{}/", staging.display()), "")
        };
        let loaded = deckle_dsl::load(&wf_path).map_err(|d| Error::InvalidWorkflow(d.0.iter().filter(|d| d.is_error()).map(show).collect()))?;
        let wf = loaded.workflow;
        let links = crate::workflow_links::check(&wf, &req.file_name, |id| {
            let v = self.store.get_workflow(id).ok()??.versions.last()?.version;
            let other = self.load(id, v).ok()?;
            Some(crate::workflow_links::upstreams(&other).into_iter().map(|(u, _)| u).collect())
        });
        if !links.is_empty() {
            return Err(Error::InvalidWorkflow(links));
        }
        for (rel, _, who) in wf.notebooks() {
            if !req.files.contains_key(rel) {
                return Err(Error::InvalidWorkflow(vec![format!("{who}: notebook {rel} was not sent with the registration")]));
            }
        }
        // Content-addressed copies for workers.
        let blobs = self.data_dir.join("blobs");
        std::fs::create_dir_all(&blobs).map_err(io(&blobs))?;
        for (rel, hash) in &files {
            let blob = blobs.join(hash);
            if !blob.exists() {
                let tmp = blobs.join(format!("{hash}.{}", uuid::Uuid::new_v4().simple()));
                durable::write_synced(&tmp, req.files[rel].as_bytes()).map_err(io(&tmp))?;
                std::fs::rename(&tmp, &blob).map_err(io(&blob))?;
            }
        }
        durable::sync_dir(&blobs).map_err(io(&blobs))?;
        // In the artifact store before the version exists (the workflow file too,
        // by its hash): a coordinator that never saw this registration loads it.
        let contents = files.iter().map(|(rel, hash)| (hash.clone(), req.files[rel].as_bytes().to_vec())).chain([(sha256(req.content.as_bytes()), req.content.as_bytes().to_vec())]);
        for (hash, body) in contents {
            self.mirror.put_now(&blobs.join(hash), body).await?;
        }
        // The version's files are on disk before the store says it exists.
        durable::sync_tree(staging).map_err(io(staging))?;
        let _one_at_a_time = self.lock.lock().await;
        let mut entry = self.store.get_workflow(&wf.id)?.unwrap_or(WorkflowEntry { id: wf.id.clone(), description: None, versions: Vec::new() });
        let version = entry.versions.last().map_or(1, |v| v.version + 1);
        let dest = self.version_dir(&wf.id, version);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let _ = std::fs::remove_dir_all(&dest); // a half-made directory from a crash
        std::fs::rename(staging, &dest).map_err(io(&dest))?;
        for dir in dest.ancestors().skip(1).take(2).chain([self.data_dir.as_path()]) {
            durable::sync_dir(dir).map_err(io(dir))?;
        }
        let v = WorkflowVersion {
            workflow: wf.id.clone(),
            version,
            file_name: req.file_name.clone(),
            hash: sha256(req.content.as_bytes()),
            registered_at: self.clock.now(),
            files,
            warnings: loaded.warnings.iter().map(|d| d.to_string().replace(&format!("{}/", dest.display()), "")).collect(),
        };
        entry.description = wf.description.clone();
        entry.versions.push(v.clone());
        self.store.put_workflow(&entry)?;
        self.store.flush().await?;
        Ok(v)
    }

    fn version_dir(&self, id: &str, version: u32) -> PathBuf {
        self.data_dir.join("workflows").join(id).join(version.to_string())
    }

    /// The registered workflow `id`.
    pub fn entry(&self, id: &str) -> Result<WorkflowEntry> {
        self.store.get_workflow(id)?.ok_or_else(|| Error::NotFound(format!("workflow {id}")))
    }

    /// Every registered workflow.
    pub fn entries(&self) -> Result<Vec<WorkflowEntry>> {
        self.store.workflows()
    }

    /// A registered version, parsed (cached: versions never change).
    pub fn load(&self, id: &str, version: u32) -> Result<Arc<Workflow>> {
        if let Some(wf) = self.loaded.lock().unwrap_or_else(|p| p.into_inner()).get(&(id.to_string(), version)) {
            return Ok(wf.clone());
        }
        let entry = self.entry(id)?;
        let v = entry.versions.iter().find(|v| v.version == version).ok_or_else(|| Error::NotFound(format!("workflow {id} version {version}")))?;
        self.materialize(id, v)?;
        let path = self.version_dir(id, version).join(&v.file_name);
        let wf = deckle_dsl::load_registered(&path)
            .map_err(|d| Error::InvalidWorkflow(d.0.iter().map(|d| d.to_string()).collect()))?
            .workflow;
        let wf = Arc::new(wf);
        self.loaded.lock().unwrap_or_else(|p| p.into_inner()).insert((id.to_string(), version), wf.clone());
        Ok(wf)
    }

    /// A snapshotted file by its sha256.
    pub fn blob(&self, hash: &str) -> Result<PathBuf> {
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Input(format!("{hash:?} is not a sha256")));
        }
        let p = self.data_dir.join("blobs").join(hash.to_ascii_lowercase());
        if self.mirror.localize(&p)? {
            Ok(p)
        } else {
            Err(Error::NotFound(format!("blob {hash}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// schemathesis found the NUL byte: it reached the file system and came back a 503.
    #[test]
    fn file_paths_the_file_system_would_refuse_are_bad_input() {
        for bad in ["", "/etc/passwd", "../x.ipynb", "a/../../x.ipynb", "a\0b.ipynb", "tab\there.ipynb", "new\nline.ipynb", &"n".repeat(256), &"d/".repeat(600)] {
            match safe_relative(bad) {
                Err(Error::Input(_)) => {}
                other => panic!("{:?}: {other:?}", bad.chars().take(40).collect::<String>()),
            }
        }
        assert_eq!(safe_relative("sub/nb.ipynb").unwrap(), PathBuf::from("sub/nb.ipynb"));
        assert_eq!(safe_relative("ünïcode nb.ipynb").unwrap(), PathBuf::from("ünïcode nb.ipynb"));
    }
}
