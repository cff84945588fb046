//! The AWS shared profile files (`~/.aws/credentials`, `~/.aws/config`), which the
//! AWS CLI and boto3 (so papermill) read and `object_store` does not.
//!
//! The profile is `AWS_PROFILE` (default `default`); the files are
//! `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE` when set. Only static keys,
//! the region and `endpoint_url` are read; environment variables win over both.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What a profile holds that the S3 client uses.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct Profile {
    /// `aws_access_key_id`.
    pub access_key_id: Option<String>,
    /// `aws_secret_access_key`.
    pub secret_access_key: Option<String>,
    /// `aws_session_token`.
    pub session_token: Option<String>,
    /// `region` (from the config file, or the credentials file).
    pub region: Option<String>,
    /// `endpoint_url` (an S3-compatible server).
    pub endpoint_url: Option<String>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "***"))
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .finish()
    }
}

impl Profile {
    /// The profile named by the environment, from the files the environment names
    /// (or `~/.aws/…`); empty when there are none.
    pub fn from_env() -> Profile {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        let var = |k: &str, default: PathBuf| std::env::var_os(k).map(PathBuf::from).unwrap_or(default);
        let name = std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "default".into());
        Profile::read(
            &name,
            &var("AWS_SHARED_CREDENTIALS_FILE", home.join(".aws/credentials")),
            &var("AWS_CONFIG_FILE", home.join(".aws/config")),
        )
    }

    /// Profile `name` from the two files (either may be missing).
    pub fn read(name: &str, credentials: &Path, config: &Path) -> Profile {
        let creds = std::fs::read_to_string(credentials).map(|t| section(&t, name)).unwrap_or_default();
        // The config file names sections `[profile x]`, except `[default]`.
        let config_name = if name == "default" { "default".to_string() } else { format!("profile {name}") };
        let conf = std::fs::read_to_string(config).map(|t| section(&t, &config_name)).unwrap_or_default();
        let get = |k: &str| creds.get(k).or_else(|| conf.get(k)).cloned();
        Profile {
            access_key_id: get("aws_access_key_id"),
            secret_access_key: get("aws_secret_access_key"),
            session_token: get("aws_session_token"),
            region: conf.get("region").or_else(|| creds.get("region")).cloned(),
            endpoint_url: conf.get("endpoint_url").or_else(|| creds.get("endpoint_url")).cloned(),
        }
    }
}

/// The `key = value` pairs of section `[name]` of an INI text.
fn section(text: &str, name: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = header.trim() == name;
            continue;
        }
        if inside {
            if let Some((k, v)) = line.split_once('=') {
                out.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_profile_reads_keys_from_credentials_and_region_from_config() {
        let dir = tempfile::tempdir().unwrap();
        let (creds, conf) = (dir.path().join("credentials"), dir.path().join("config"));
        std::fs::write(&creds, "[default]\naws_access_key_id = DEF\naws_secret_access_key = defsecret\n\n[etl]\n# a comment\naws_access_key_id=ETL\naws_secret_access_key = etlsecret\naws_session_token = tok\n").unwrap();
        std::fs::write(&conf, "[default]\nregion = us-east-1\n[profile etl]\nregion = eu-west-1\nendpoint_url = http://127.0.0.1:9000\n").unwrap();
        let p = Profile::read("etl", &creds, &conf);
        assert_eq!(p.access_key_id.as_deref(), Some("ETL"));
        assert_eq!(p.secret_access_key.as_deref(), Some("etlsecret"));
        assert_eq!(p.session_token.as_deref(), Some("tok"));
        assert_eq!(p.region.as_deref(), Some("eu-west-1"));
        assert_eq!(p.endpoint_url.as_deref(), Some("http://127.0.0.1:9000"));
        let d = Profile::read("default", &creds, &conf);
        assert_eq!((d.access_key_id.as_deref(), d.region.as_deref(), d.endpoint_url), (Some("DEF"), Some("us-east-1"), None));
        assert!(!format!("{p:?}").contains("etlsecret"), "Debug must not print the secret");
    }

    #[test]
    fn missing_files_and_profiles_give_an_empty_profile() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Profile::read("x", &dir.path().join("no"), &dir.path().join("no")), Profile::default());
    }
}
