//! Bearer-token checks, in constant time so a token cannot be guessed byte by
//! byte from response timings.

use subtle::ConstantTimeEq;

pub fn token_matches(given: &str, expected: &str) -> bool {
    // Lengths differ only for wrong tokens; comparing digests keeps even that
    // from showing in the time taken.
    use sha2::{Digest, Sha256};
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
