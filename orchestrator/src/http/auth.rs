//! Who may call: a bearer token, checked in constant time so it cannot be guessed
//! byte by byte from response timings, or the web UI's session cookie
//! (`HttpOnly`, `SameSite=Strict`), which holds a digest of the token, never the
//! token.

use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The name of the UI's session cookie.
pub const SESSION_COOKIE: &str = "deckle_session";

/// The session cookie's value for a token: a digest, so the cookie never holds the token.
pub fn session_value(token: &str) -> String {
    hex::encode(Sha256::digest(format!("deckle-session\0{token}").as_bytes()))
}

/// The session cookie sent with a request, if any.
pub fn session_of(headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get_all(header::COOKIE);
    cookies
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// Whether `given` is the token `expected`.

pub fn token_matches(given: &str, expected: &str) -> bool {
    // Lengths differ only for wrong tokens; comparing digests keeps even that
    // from showing in the time taken.
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.ct_eq(&b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_matches() {
        assert!(token_matches("s3cret", "s3cret"));
        assert!(!token_matches("s3cre", "s3cret"));
        assert!(!token_matches("s3cret ", "s3cret"));
        assert!(!token_matches("", "s3cret"));
    }
}
