//! A root in some store, and the keys under it.

use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{Attribute, Attributes, ObjectStore, PutOptions, PutPayload};

use crate::location::{Location, Scheme};
use crate::open::Options;
use crate::{Error, Result};

/// A root (a bucket and prefix, a container, a directory) that keys are read and
/// written under. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    base: Location,
    secrets: Arc<Vec<String>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("base", &self.base.to_string()).finish()
    }
}

impl Store {
    /// A store rooted at `base` (its key is the prefix of every key).
    pub fn open(base: &Location, opts: &Options) -> Result<Store> {
        let (inner, secrets) = crate::open::client(base, opts)?;
        Ok(Store { inner, base: base.clone(), secrets: Arc::new(secrets) })
    }

    /// The store holding the object at `loc`, and the object's key in it.
    pub fn open_object(loc: &Location, opts: &Options) -> Result<(Store, String)> {
        let (parent, name) = loc.split_last().ok_or_else(|| Error::BadLocation { url: loc.to_string(), message: "names a bucket or container, not a file in it".into() })?;
        Ok((Store::open(&parent, opts)?, name))
    }

    /// Where keys live.
    pub fn location(&self) -> &Location {
        &self.base
    }

    /// `key`'s full URL (or path), for people and records.
    pub fn url(&self, key: &str) -> String {
        self.base.join(key).to_string()
    }

    fn path(&self, key: &str) -> ObjectPath {
        ObjectPath::from(self.base.join(key).key())
    }

    /// A provider's message on one line, bounded (an error body can be a page of
    /// XML), with secrets masked.
    fn message(&self, e: &object_store::Error) -> String {
        let one_line = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
        let mut m = crate::redact::redact_with(&one_line, &self.secrets);
        if m.len() > 400 {
            let cut = (0..=400).rev().find(|&i| m.is_char_boundary(i)).unwrap_or(0);
            m.truncate(cut);
            m.push('…');
        }
        m
    }

    /// An `object_store` error as this crate's, naming `key` and masking secrets.
    fn error(&self, key: &str, e: object_store::Error) -> Error {
        let url = self.url(key);
        let message = self.message(&e);
        match (e, status(&message)) {
            (object_store::Error::NotFound { .. }, _) | (_, Some(404)) => Error::NotFound { url },
            (object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }, _) | (_, Some(401 | 403)) => Error::Denied { url, message },
            (object_store::Error::NotSupported { .. } | object_store::Error::NotImplemented | object_store::Error::InvalidPath { .. }, _) => {
                Error::BadLocation { url, message }
            }
            _ => Error::Unavailable { url, message },
        }
    }

    /// The whole object at `key`.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>> {
        let got = self.inner.get(&self.path(key)).await.map_err(|e| self.error(key, e))?;
        Ok(got.bytes().await.map_err(|e| self.error(key, e))?.to_vec())
    }

    /// Writes `body` at `key` in one request: readers see the previous object or
    /// this one, never part of it (an object PUT is atomic; a local file is written
    /// beside and renamed into place).
    pub async fn put(&self, key: &str, body: Vec<u8>) -> Result<()> {
        if !self.base.scheme().writable() {
            return Err(Error::ReadOnly { url: self.url(key), scheme: "http(s)://".into() });
        }
        let mut attributes = Attributes::new();
        let local = matches!(self.base.scheme(), Scheme::Local | Scheme::Memory);
        if !local && key.ends_with(".ipynb") {
            attributes.insert(Attribute::ContentType, "application/x-ipynb+json".into());
        }
        let opts = PutOptions { attributes, ..Default::default() };
        match self.inner.put_opts(&self.path(key), PutPayload::from(body), opts).await {
            Ok(_) => Ok(()),
            // A PUT answered 404 means the bucket itself is missing.
            Err(e @ object_store::Error::NotFound { .. }) => Err(Error::BadLocation { url: self.url(key), message: format!("the bucket or container does not exist ({})", self.message(&e)) }),
            Err(e) => Err(self.error(key, e)),
        }
    }

    /// Whether an object is at `key`.
    pub async fn exists(&self, key: &str) -> Result<bool> {
        match self.inner.head(&self.path(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.error(key, e)),
        }
    }

    /// Checks that the store answers, takes these credentials, and that its
    /// bucket or container exists, without writing anything (a listing under
    /// `prefix`, which only a missing bucket answers with "not found").
    pub async fn check(&self, prefix: &str) -> Result<()> {
        if self.base.is_local() {
            return Ok(());
        }
        let p = self.path(prefix);
        let mut listing = self.inner.list(Some(&p));
        match listing.try_next().await {
            Ok(_) => Ok(()),
            // A listing answers 404 only for a missing bucket.
            Err(e) => match self.error(prefix, e) {
                Error::NotFound { url } => Err(Error::BadLocation { url, message: "the bucket or container does not exist".into() }),
                other => Err(other),
            },
        }
    }

    /// Every key under `prefix` (relative to this store's root) with its size,
    /// sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        let root = self.base.key().to_string();
        let p = self.path(prefix);
        let metas: Vec<object_store::ObjectMeta> = self.inner.list(Some(&p)).try_collect().await.map_err(|e| self.error(prefix, e))?;
        let mut out: Vec<(String, u64)> = metas
            .into_iter()
            .map(|m| {
                let k = m.location.to_string();
                let rel = if root.is_empty() { k } else { k.strip_prefix(&root).unwrap_or(&k).trim_start_matches('/').to_string() };
                (rel, m.size)
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Removes the object at `key` (nothing there is not an error).
    pub async fn delete(&self, key: &str) -> Result<()> {
        match self.inner.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(key, e)),
        }
    }
}

/// The HTTP status in a provider's message: `object_store` reports some failures
/// (a listing's, for one) as generic errors with the status only in their text.
fn status(message: &str) -> Option<u16> {
    let (_, after) = message.split_once("status code: ")?;
    after.get(..3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(url: &str) -> Store {
        Store::open(&url.parse().unwrap(), &Options::default()).unwrap()
    }

    #[tokio::test]
    async fn keys_live_under_the_prefix_and_list_relative_to_it() {
        let s = open("memory://keys/prefix");
        s.put("a/x.ipynb", b"1".to_vec()).await.unwrap();
        s.put("a/y.ipynb", b"22".to_vec()).await.unwrap();
        s.put("b.ipynb", b"3".to_vec()).await.unwrap();
        assert_eq!(s.list("a").await.unwrap(), vec![("a/x.ipynb".to_string(), 1), ("a/y.ipynb".to_string(), 2)]);
        assert!(s.exists("b.ipynb").await.unwrap());
        // The same memory store seen from its root holds the prefix.
        assert_eq!(open("memory://keys").get("prefix/a/y.ipynb").await.unwrap(), b"22");
        s.delete("b.ipynb").await.unwrap();
        s.delete("b.ipynb").await.unwrap();
        assert!(!s.exists("b.ipynb").await.unwrap());
        assert_eq!(s.url("a/x.ipynb"), "memory://keys/prefix/a/x.ipynb");
    }

    #[tokio::test]
    async fn a_local_directory_is_a_store_and_a_put_replaces_whole() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().to_str().unwrap().parse().unwrap(), &Options::default()).unwrap();
        s.put("deep/nested/a.ipynb", b"old".to_vec()).await.unwrap();
        s.put("deep/nested/a.ipynb", b"new".to_vec()).await.unwrap();
        assert_eq!(std::fs::read(dir.path().join("deep/nested/a.ipynb")).unwrap(), b"new");
        // No temporary file is left beside it.
        assert_eq!(std::fs::read_dir(dir.path().join("deep/nested")).unwrap().count(), 1);
        let e = s.get("missing.ipynb").await.unwrap_err();
        assert!(e.is_not_found(), "{e}");
        assert!(e.to_string().contains("missing.ipynb"), "{e}");
    }

    #[tokio::test]
    async fn https_locations_are_read_only() {
        let s = open("https://example.invalid/nb");
        let e = s.put("a.ipynb", b"x".to_vec()).await.unwrap_err();
        assert!(matches!(e, Error::ReadOnly { .. }) && e.is_bad_input(), "{e}");
        assert!(e.to_string().starts_with("https://example.invalid/nb/a.ipynb: http(s):// locations are read-only"), "{e}");
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_unavailable_after_the_retries() {
        // A port nothing listens on: refused at once, every retry. (Unsigned, so the
        // client does not go looking for instance metadata for credentials.)
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let opts = Options { endpoint: Some(format!("http://127.0.0.1:{port}")), max_retries: 1, retry_timeout: std::time::Duration::from_secs(2), anonymous: true, ..Options::default() };
        let s = Store::open(&"s3://bucket/p".parse().unwrap(), &opts).unwrap();
        let e = s.put("a.ipynb", b"x".to_vec()).await.unwrap_err();
        assert!(matches!(e, Error::Unavailable { .. }), "{e}");
        assert!(e.to_string().starts_with("s3://bucket/p/a.ipynb: storage unavailable"), "{e}");
    }

    #[test]
    fn a_status_in_a_generic_message_is_found() {
        assert_eq!(status("Error performing GET http://h/b in 3ms - Server returned non-2xx status code: 403 Forbidden: <Error/>"), Some(403));
        assert_eq!(status("Error after 5 retries: connection refused"), None);
    }

    #[test]
    fn opening_the_root_of_a_bucket_as_a_file_is_bad_input() {
        let e = Store::open_object(&"s3://bucket".parse().unwrap(), &Options::default()).unwrap_err();
        assert!(e.to_string().contains("names a bucket or container"), "{e}");
    }
}
