//! Building a provider's client for a [`Location`], with credentials the usual way
//! for each provider:
//!
//! - **S3**: `AWS_*` variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!   `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL` …), else the shared
//!   profile files ([`crate::profile`]), else web identity, the ECS task role or
//!   the instance metadata service.
//! - **GCS**: `GOOGLE_SERVICE_ACCOUNT` / `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's
//!   application default credentials, else the metadata server.
//! - **Azure**: `AZURE_STORAGE_ACCOUNT_NAME` with `AZURE_STORAGE_ACCOUNT_KEY`, a SAS
//!   (`AZURE_STORAGE_SAS_KEY`), a service principal (`AZURE_CLIENT_ID`, …), the
//!   Azure CLI, else managed identity.
//!
//! An S3-compatible server is named by [`Options::endpoint`]
//! (`--artifacts-endpoint`), `AWS_ENDPOINT_URL`, or the profile's `endpoint_url`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::http::HttpBuilder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::{BackoffConfig, ObjectStore, RetryConfig};

use crate::location::{Location, Scheme};
use crate::profile::Profile;
use crate::Error;

/// How to reach a store.
#[derive(Debug, Clone)]
pub struct Options {
    /// The endpoint of an S3-compatible server (`http://127.0.0.1:9000`); wins
    /// over `AWS_ENDPOINT_URL` and the profile's `endpoint_url`.
    pub endpoint: Option<String>,
    /// Retries of one request (5xx, throttling, a refused connection) before it
    /// fails, with exponential backoff …
    pub max_retries: usize,
    /// … for at most this long in all.
    pub retry_timeout: Duration,
    /// One request's limit (a stalled connection fails and is retried).
    pub request_timeout: Duration,
    /// Send requests unsigned, looking for no credentials (public buckets).
    pub anonymous: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { endpoint: None, max_retries: 5, retry_timeout: Duration::from_secs(30), request_timeout: Duration::from_secs(30), anonymous: false }
    }
}

/// A client for `loc`'s root (bucket, container, host, or `/`), and the secrets
/// it was configured with (so they can be masked).
pub(crate) fn client(loc: &Location, opts: &Options) -> Result<(Arc<dyn ObjectStore>, Vec<String>), Error> {
    let retry = RetryConfig {
        backoff: BackoffConfig { init_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(5), base: 2.0 },
        max_retries: opts.max_retries,
        retry_timeout: opts.retry_timeout,
    };
    let client_opts = object_store::ClientOptions::new().with_timeout(opts.request_timeout).with_connect_timeout(Duration::from_secs(5));
    let built = |r: object_store::Result<Arc<dyn ObjectStore>>| {
        r.map_err(|e| Error::BadLocation { url: loc.to_string(), message: crate::redact(&format!("cannot set up the client: {e}")) })
    };
    let mut secrets = Vec::new();
    let store: Arc<dyn ObjectStore> = match loc.scheme() {
        Scheme::Local => built(LocalFileSystem::new_with_prefix("/").map(|s| Arc::new(s) as _))?,
        Scheme::Memory => memory(loc.root()),
        Scheme::S3 => {
            let mut b = AmazonS3Builder::from_env().with_bucket_name(loc.root()).with_retry(retry).with_client_options(client_opts).with_skip_signature(opts.anonymous);
            let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let profile = Profile::from_env();
            if env("AWS_ACCESS_KEY_ID").is_none() {
                if let (Some(id), Some(secret)) = (&profile.access_key_id, &profile.secret_access_key) {
                    b = b.with_access_key_id(id).with_secret_access_key(secret);
                    secrets.push(secret.clone());
                    if let Some(t) = &profile.session_token {
                        b = b.with_token(t);
                        secrets.push(t.clone());
                    }
                }
            }
            if env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")).is_none() {
                b = b.with_region(profile.region.as_deref().unwrap_or("us-east-1"));
            }
            let endpoint = opts.endpoint.clone().or_else(|| env("AWS_ENDPOINT_URL_S3")).or_else(|| env("AWS_ENDPOINT_URL")).or_else(|| env("AWS_ENDPOINT")).or(profile.endpoint_url);
            if let Some(e) = endpoint {
                // A custom endpoint is an S3-compatible server: path-style requests,
                // and plain HTTP when it says so.
                b = b.with_allow_http(e.starts_with("http://")).with_virtual_hosted_style_request(false).with_endpoint(e);
            }
            built(b.build().map(|s| Arc::new(s) as _))?
        }
        Scheme::Gcs => built(
            GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(loc.root())
                .with_retry(retry)
                .with_client_options(client_opts)
                .with_skip_signature(opts.anonymous)
                .build()
                .map(|s| Arc::new(s) as _),
        )?,
        Scheme::Azure => {
            let b = MicrosoftAzureBuilder::from_env().with_url(loc.root()).with_retry(retry).with_client_options(client_opts).with_skip_signature(opts.anonymous);
            built(b.build().map(|s| Arc::new(s) as _))?
        }
        Scheme::Http => {
            let b = HttpBuilder::new().with_url(loc.root()).with_retry(retry).with_client_options(client_opts.with_allow_http(true));
            built(b.build().map(|s| Arc::new(s) as _))?
        }
    };
    Ok((store, secrets))
}

/// One in-memory store per name for the life of the process.
fn memory(name: &str) -> Arc<dyn ObjectStore> {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<InMemory>>>> = OnceLock::new();
    let mut stores = STORES.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    stores.entry(name.to_string()).or_insert_with(|| Arc::new(InMemory::new())).clone()
}
