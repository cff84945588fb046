//! The notebook reader and everything done to an input notebook before a kernel
//! sees it (papermill's defaults, parameter injection in each language, metadata).
//! A notebook that parsed must still parse after injection.
#![no_main]

use deckle_worker::params::{ParamValue, Params};
use deckle_worker::translate::Language;
use deckle_worker::{inject, notebook};
use libfuzzer_sys::fuzz_target;

const LANGUAGES: [Language; 9] =
    [Language::Python, Language::R, Language::Scala, Language::Julia, Language::Matlab, Language::CSharp, Language::FSharp, Language::PowerShell, Language::Bash];

fuzz_target!(|data: &[u8]| {
    // The first byte picks the language and mode; the rest is the notebook.
    let Some((&knob, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let Ok(mut nb) = notebook::parse(text) else { return };
    inject::load_defaults(&mut nb);
    let _ = inject::kernel_and_language(&nb, None, None);
    let mut params = Params::default();
    params.insert("date".into(), ParamValue::Str("2026-01-01\"; rm -rf / #".into()));
    params.insert("n".into(), ParamValue::Int(i64::MIN));
    params.insert("xs".into(), ParamValue::List(vec![ParamValue::Float(f64::NAN), ParamValue::Null, ParamValue::BigInt("-123456789012345678901234567890".into())]));
    let lang = LANGUAGES[usize::from(knob) % LANGUAGES.len()];
    let report = knob & 0x80 != 0;
    let _ = inject::parameterize(&mut nb, &params, &["token".to_string()], lang, report);
    inject::prepare_metadata(&mut nb, "in.ipynb", Some("out.ipynb"), report);
    let written = notebook::to_string(&nb);
    if let Err(e) = notebook::parse(&written) {
        panic!("a notebook written after injection does not read back: {e}");
    }
});
