//! Paths and URLs as papermill takes them, parsed into a scheme, a root (bucket,
//! container, host or directory) and a key under it.
//!
//! | form | scheme |
//! |---|---|
//! | `/abs/path`, `rel/path`, `file:///abs/path` | [`Scheme::Local`] |
//! | `s3://bucket/key` (also `s3a://`, `s3n://`) | [`Scheme::S3`] |
//! | `gs://bucket/key` (also `gcs://`) | [`Scheme::Gcs`] |
//! | `az://container/key`, `azure://container/key`, `abfs[s]://container@account.dfs.core.windows.net/key`, `abfs[s]://container/key`, papermill's `abs://account.blob.core.windows.net/container/key` | [`Scheme::Azure`] |
//! | `http://host/key`, `https://host/key` (read-only) | [`Scheme::Http`] |
//! | `memory://name/key` (one process's memory; tests and examples) | [`Scheme::Memory`] |
//!
//! Papermill's `adl://` (Azure Data Lake Gen1, retired in 2024) and `hdfs://` are
//! refused with a message saying what to use instead, as is any other scheme.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::Error;

/// Which kind of store a location is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// The local file system.
    Local,
    /// Memory of this process (lost when it ends).
    Memory,
    /// Amazon S3 and S3-compatible servers.
    S3,
    /// Google Cloud Storage.
    Gcs,
    /// Azure Blob Storage (and Data Lake Gen2).
    Azure,
    /// Plain HTTP(S), read-only.
    Http,
}

impl Scheme {
    /// Whether locations of this scheme can be written.
    pub fn writable(self) -> bool {
        self != Scheme::Http
    }
}

/// A parsed path or URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    scheme: Scheme,
    /// The bucket (S3, GCS), the store URL (Azure: `az://container`,
    /// `abfss://c@account.dfs.core.windows.net`; HTTP: `https://host`), the name
    /// (memory) or `/` (local).
    root: String,
    /// `/`-separated, no leading `/`; empty for the root itself.
    key: String,
    text: String,
}

impl Location {
    /// The kind of store.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The bucket, container URL, host or name the key is under.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The object's key (for local paths: the absolute path without its leading `/`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether this is a local path.
    pub fn is_local(&self) -> bool {
        self.scheme == Scheme::Local
    }

    /// A local path as a path.
    pub fn local_path(&self) -> Option<PathBuf> {
        self.is_local().then(|| PathBuf::from(format!("/{}", self.key)))
    }

    /// The location of `rel` under this one (`s3://b/prefix` + `a/x.ipynb`).
    pub fn join(&self, rel: &str) -> Location {
        let rel = rel.trim_matches('/');
        let key = match (self.key.is_empty(), rel.is_empty()) {
            (_, true) => self.key.clone(),
            (true, false) => rel.to_string(),
            (false, false) => format!("{}/{rel}", self.key),
        };
        let text = format!("{}/{rel}", self.text.trim_end_matches('/'));
        Location { key, text, ..self.clone() }
    }

    /// The location one level up and the last segment of the key, or `None` at
    /// the root (a bucket or container itself is not a file).
    pub fn split_last(&self) -> Option<(Location, String)> {
        let (parent, name) = match self.key.rsplit_once('/') {
            Some((p, n)) => (p.to_string(), n.to_string()),
            None if self.key.is_empty() => return None,
            None => (String::new(), self.key.clone()),
        };
        let text = self.text.strip_suffix(&name).unwrap_or(&self.text).trim_end_matches('/').to_string();
        Some((Location { key: parent, text, ..self.clone() }, name))
    }
}

impl fmt::Display for Location {
    /// The location as the user wrote it (a URL never holds credentials:
    /// userinfo and query strings are refused at parse time).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn bad(url: &str, message: impl Into<String>) -> Error {
    Error::BadLocation { url: crate::redact(url), message: message.into() }
}

/// `scheme://rest` → (`scheme` lower-cased, `rest`), when `s` is a URL at all.
fn split_scheme(s: &str) -> Option<(String, &str)> {
    let (scheme, rest) = s.split_once("://")?;
    let ok = !scheme.is_empty() && scheme.chars().next()?.is_ascii_alphabetic() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    ok.then(|| (scheme.to_ascii_lowercase(), rest))
}

/// `authority/key` → (authority, key), refusing what would put credentials or
/// request options in a URL.
fn authority_and_key<'a>(url: &str, rest: &'a str, what: &str) -> Result<(&'a str, &'a str), Error> {
    if rest.contains('?') || rest.contains('#') {
        return Err(bad(url, "query strings and fragments are not supported (credentials come from the environment, never the URL)"));
    }
    let (authority, key) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.is_empty() {
        return Err(bad(url, format!("no {what} name")));
    }
    if authority.contains('@') && what != "container" {
        return Err(bad(url, "credentials in the URL are not supported; set them in the environment or the provider's profile files"));
    }
    Ok((authority, key))
}

fn clean_key(url: &str, key: &str) -> Result<String, Error> {
    let key = key.trim_matches('/');
    if key.split('/').any(|s| s.is_empty() || s == "." || s == "..") && !key.is_empty() {
        return Err(bad(url, "the key has an empty, `.` or `..` segment"));
    }
    Ok(key.to_string())
}

fn local(text: &str, path: &Path) -> Result<Location, Error> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map_err(|e| bad(text, format!("cannot resolve a relative path: {e}")))?.join(path)
    };
    // Lexically normalised: object keys have no `.` or `..` segments.
    let mut parts: Vec<String> = Vec::new();
    for c in abs.components() {
        match c {
            std::path::Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            std::path::Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    Ok(Location { scheme: Scheme::Local, root: "/".into(), key: parts.join("/"), text: text.to_string() })
}

impl FromStr for Location {
    type Err = Error;

    fn from_str(s: &str) -> Result<Location, Error> {
        if s.trim().is_empty() {
            return Err(bad(s, "an empty path"));
        }
        let Some((scheme, rest)) = split_scheme(s) else {
            return local(s, Path::new(s));
        };
        let object = |scheme: Scheme, what: &str| -> Result<Location, Error> {
            let (root, key) = authority_and_key(s, rest, what)?;
            Ok(Location { scheme, root: root.to_string(), key: clean_key(s, key)?, text: s.to_string() })
        };
        match scheme.as_str() {
            "file" => match rest.strip_prefix('/') {
                Some(_) => local(s, Path::new(rest)),
                None if rest.starts_with("localhost/") => local(s, Path::new(&rest["localhost".len()..])),
                None => Err(bad(s, "a file:// URL names a local absolute path: file:///path/to/file")),
            },
            "memory" => object(Scheme::Memory, "store"),
            "s3" | "s3a" | "s3n" => object(Scheme::S3, "bucket"),
            "gs" | "gcs" => object(Scheme::Gcs, "bucket"),
            "az" | "azure" | "abfs" | "abfss" => {
                let (authority, key) = authority_and_key(s, rest, "container")?;
                Ok(Location { scheme: Scheme::Azure, root: format!("{scheme}://{authority}"), key: clean_key(s, key)?, text: s.to_string() })
            }
            // papermill: abs://<account>.blob.core.windows.net/<container>/<blob>
            "abs" => {
                let (host, rest) = authority_and_key(s, rest, "account")?;
                let (container, key) = rest.split_once('/').unwrap_or((rest, ""));
                if container.is_empty() || !host.contains('.') {
                    return Err(bad(s, "papermill's Azure form is abs://<account>.blob.core.windows.net/<container>/<path>"));
                }
                Ok(Location { scheme: Scheme::Azure, root: format!("https://{host}/{container}"), key: clean_key(s, key)?, text: s.to_string() })
            }
            "http" | "https" => {
                let (host, key) = authority_and_key(s, rest, "host")?;
                Ok(Location { scheme: Scheme::Http, root: format!("{scheme}://{host}"), key: clean_key(s, key)?, text: s.to_string() })
            }
            "adl" => Err(bad(s, "Azure Data Lake Storage Gen1 (adl://) was retired in 2024; use abfss://<container>@<account>.dfs.core.windows.net/<path>")),
            "hdfs" | "viewfs" => Err(bad(s, "HDFS is not supported; put the notebook on local disk or in object storage (s3://, gs://, az://)")),
            other => Err(bad(
                s,
                format!("unsupported scheme `{other}://`; use a local path, s3://, gs://, az://, abfs[s]://, abs://, http:// or https://"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Location {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn refused(s: &str) -> String {
        match s.parse::<Location>() {
            Ok(l) => panic!("{s} parsed as {l:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn every_scheme_papermill_accepts_parses_to_its_store() {
        let cases = [
            ("s3://etlbucket/jobs/templates/vid_agg.ipynb", Scheme::S3, "etlbucket", "jobs/templates/vid_agg.ipynb"),
            ("s3a://b/k.ipynb", Scheme::S3, "b", "k.ipynb"),
            ("s3n://b/k.ipynb", Scheme::S3, "b", "k.ipynb"),
            ("S3://b/k.ipynb", Scheme::S3, "b", "k.ipynb"),
            ("gs://bucket/a/b.ipynb", Scheme::Gcs, "bucket", "a/b.ipynb"),
            ("gcs://bucket/a/b.ipynb", Scheme::Gcs, "bucket", "a/b.ipynb"),
            ("az://container/a/b.ipynb", Scheme::Azure, "az://container", "a/b.ipynb"),
            ("azure://container/b.ipynb", Scheme::Azure, "azure://container", "b.ipynb"),
            ("abfss://fs@acct.dfs.core.windows.net/dir/b.ipynb", Scheme::Azure, "abfss://fs@acct.dfs.core.windows.net", "dir/b.ipynb"),
            ("abfs://fs/dir/b.ipynb", Scheme::Azure, "abfs://fs", "dir/b.ipynb"),
            ("abs://acct.blob.core.windows.net/cont/dir/b.ipynb", Scheme::Azure, "https://acct.blob.core.windows.net/cont", "dir/b.ipynb"),
            ("https://example.org/nb/a.ipynb", Scheme::Http, "https://example.org", "nb/a.ipynb"),
            ("http://127.0.0.1:8080/a.ipynb", Scheme::Http, "http://127.0.0.1:8080", "a.ipynb"),
            ("memory://t/a.ipynb", Scheme::Memory, "t", "a.ipynb"),
            ("s3://bucket", Scheme::S3, "bucket", ""),
            ("s3://bucket/prefix/", Scheme::S3, "bucket", "prefix"),
        ];
        for (text, scheme, root, key) in cases {
            let l = parse(text);
            assert_eq!((l.scheme(), l.root(), l.key()), (scheme, root, key), "{text}");
            assert_eq!(l.to_string(), text);
        }
    }

    #[test]
    fn local_paths_and_file_urls_are_absolute_and_normalised() {
        assert_eq!(parse("/tmp/x/../a.ipynb").local_path().unwrap(), Path::new("/tmp/a.ipynb"));
        assert_eq!(parse("file:///tmp/a.ipynb").local_path().unwrap(), Path::new("/tmp/a.ipynb"));
        assert_eq!(parse("file://localhost/tmp/a.ipynb").local_path().unwrap(), Path::new("/tmp/a.ipynb"));
        let rel = parse("nb/a.ipynb");
        assert_eq!(rel.local_path().unwrap(), std::env::current_dir().unwrap().join("nb/a.ipynb"));
        assert_eq!(rel.to_string(), "nb/a.ipynb");
        // A colon is a file name character, not a scheme.
        assert!(parse("out:1.ipynb").is_local());
        assert!(parse("C:relative.ipynb").is_local());
    }

    #[test]
    fn unsupported_schemes_say_what_to_use_instead() {
        assert!(refused("adl://store/a.ipynb").contains("abfss://"));
        assert!(refused("hdfs://nn:8020/a.ipynb").contains("HDFS is not supported"));
        let e = refused("ftp://host/a.ipynb");
        assert!(e.contains("unsupported scheme `ftp://`") && e.contains("s3://"), "{e}");
        assert!(refused("s3:///key").contains("no bucket name"));
        assert!(refused("abs://acct.blob.core.windows.net").contains("abs://<account>"));
        assert!(refused("").contains("empty"));
        assert!(refused("file://host/a").contains("file:///"));
        assert!(refused("s3://b/a//c").contains("empty"));
        assert!(refused("s3://b/../c").contains("`..`"));
    }

    #[test]
    fn credentials_in_a_url_are_refused_and_never_echoed() {
        let e = refused("s3://AKIDEXAMPLE:wJalrXUtnFEMI@bucket/a.ipynb");
        assert!(e.contains("credentials in the URL"), "{e}");
        assert!(!e.contains("wJalrXUtnFEMI"), "{e}");
        let e = refused("https://acct.blob.core.windows.net/c/a.ipynb?sv=2022&sig=SECRETSIG");
        assert!(e.contains("query strings"), "{e}");
        assert!(!e.contains("SECRETSIG"), "{e}");
    }

    #[test]
    fn join_and_split_last_walk_keys() {
        let root = parse("s3://b/prefix");
        let nb = root.join("artifacts/wf/a.1.ipynb");
        assert_eq!(nb.key(), "prefix/artifacts/wf/a.1.ipynb");
        assert_eq!(nb.to_string(), "s3://b/prefix/artifacts/wf/a.1.ipynb");
        let (dir, name) = nb.split_last().unwrap();
        assert_eq!((dir.key(), name.as_str(), dir.to_string().as_str()), ("prefix/artifacts/wf", "a.1.ipynb", "s3://b/prefix/artifacts/wf"));
        let (top, name) = parse("s3://b/a.ipynb").split_last().unwrap();
        assert_eq!((top.key(), name.as_str()), ("", "a.ipynb"));
        assert!(parse("s3://b").split_last().is_none());
        assert_eq!(parse("s3://b").join("x").key(), "x");
    }
}
