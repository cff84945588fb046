//! Keeping credentials out of messages.
//!
//! Errors from a store may quote URLs, and a URL may carry a credential (an Azure
//! SAS token or a presigned S3 signature in its query, a password in its
//! userinfo). Every message this crate makes passes through [`redact`] before it
//! reaches a log, a record or an API response.

/// Environment variables holding a provider secret: their values are masked
/// wherever they appear.
pub const SECRET_VARS: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_MASTER_KEY",
    "AZURE_STORAGE_SAS_KEY",
    "AZURE_STORAGE_TOKEN",
    "AZURE_CLIENT_SECRET",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
];

const MASK: &str = "***";

/// `text` with credentials masked: URL userinfo (`//user:pass@`), URL query
/// strings (`?sig=…`, `?X-Amz-Signature=…`), and the value of every variable in
/// [`SECRET_VARS`] set in this process, plus `extra` secrets.
pub fn redact(text: &str) -> String {
    redact_with(text, &[])
}

/// [`redact`], also masking each of `extra` (secrets read from profile files).
pub fn redact_with(text: &str, extra: &[String]) -> String {
    let mut out = mask_urls(text);
    let env: Vec<String> = SECRET_VARS.iter().filter_map(|v| std::env::var(v).ok()).collect();
    for secret in env.iter().chain(extra).filter(|s| s.len() >= 4) {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), MASK);
        }
    }
    out
}

/// Masks the userinfo and the query of every `scheme://…` in `text`.
fn mask_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The URL runs to the next whitespace or quote.
        let end = after.find(|c: char| c.is_whitespace() || "\"'<>`".contains(c)).unwrap_or(after.len());
        let (url, tail) = after.split_at(end);
        let (authority, path) = url.split_at(url.find('/').unwrap_or(url.len()));
        match authority.rsplit_once('@') {
            Some((_, host)) => {
                out.push_str(MASK);
                out.push('@');
                out.push_str(host);
            }
            None => out.push_str(authority),
        }
        match path.split_once('?') {
            Some((p, _)) => {
                out.push_str(p);
                out.push('?');
                out.push_str(MASK);
            }
            None => out.push_str(path),
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_and_query_strings_are_masked() {
        let msg = "Error performing PUT https://acct.blob.core.windows.net/c/a.ipynb?sv=2022&sig=S3CR3T in 1s: 403";
        let r = redact(msg);
        assert_eq!(r, "Error performing PUT https://acct.blob.core.windows.net/c/a.ipynb?*** in 1s: 403");
        assert_eq!(redact("s3://AKID:topsecret@bucket/k and http://h/x"), "s3://***@bucket/k and http://h/x");
        assert_eq!(redact("no urls here"), "no urls here");
    }

    #[test]
    fn extra_secrets_are_masked_wherever_they_appear() {
        let r = redact_with("signature mismatch for key wJalrXUtnFEMIK7MDENG", &["wJalrXUtnFEMIK7MDENG".into()]);
        assert_eq!(r, "signature mismatch for key ***");
        // Too short to mask safely (would mangle ordinary words).
        assert_eq!(redact_with("a b", &["a".into()]), "a b");
    }
}
