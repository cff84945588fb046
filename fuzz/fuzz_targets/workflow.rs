//! The workflow parser and validator on arbitrary bytes: it may refuse them (with
//! diagnostics), never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = deckle_dsl::parse_str(&text, std::path::Path::new("fuzz.yaml"));
});
