//! Reading, validating and writing `.ipynb` files the way nbformat does.
//!
//! The format itself (reading as `nbformat.read`, writing as `nbformat.writes`, new
//! cells, ids) is `deckle_notebook::format`, shared with the coordinator, and
//! re-exported here; this module adds the files: errors naming the path, and
//! writes to a temporary file that is renamed into place, so a run killed mid-save
//! never leaves a torn notebook.

use std::io::Write;
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};

/// Read and validate a notebook; nbformat 4 only (v3 and older: convert first).
pub fn read(path: &Path) -> Result<Value> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::input(path, "no such file"),
        std::io::ErrorKind::IsADirectory => Error::input(path, "is a directory, not a notebook"),
        _ => Error::io(path, e),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::input(path, format!("not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))
    })?;
    parse(&text).map_err(|m| Error::input(path, m))
}

/// Parse and check notebook JSON as nbformat reads it (the error names what is
/// wrong and where), write it as nbformat does, build cells.
pub use deckle_notebook::format::{
    new_cell_id, new_code_cell, new_markdown_cell, parse, py_splitlines, rejoin_lines, source, tags, to_string, upgrade_to_v4_5,
};

/// Write atomically: a temporary file in the same directory, then rename.
pub fn write(nb: &Value, path: &Path) -> Result<()> {
    let text = to_string(nb);
    if path == Path::new("-") {
        let mut out = std::io::stdout().lock();
        return out.write_all(text.as_bytes()).and_then(|_| out.flush()).map_err(|e| Error::io(path, e));
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text.as_bytes()).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_vscode_notebook_from_a_file() {
        // papermill's tests/notebooks/blank-vscode.ipynb, as VS Code saved it.
        let dir = std::env::temp_dir().join(format!("deckle-nb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("blank-vscode.ipynb");
        std::fs::write(&path, "{\n \"metadata\": {\n  \"language_info\": {\"codemirror_mode\": {\"name\": \"ipython\", \"version\": 3}, \"name\": \"python\", \"version\": 3},\n  \"orig_nbformat\": 2\n },\n \"nbformat\": 4,\n \"nbformat_minor\": 2,\n \"cells\": [{\"cell_type\": \"code\", \"execution_count\": null, \"metadata\": {}, \"outputs\": [], \"source\": []}]\n}\n").unwrap();
        let mut nb = read(&path).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        upgrade_to_v4_5(&mut nb);
        let written = to_string(&nb);
        assert!(!written.contains("orig_nbformat"), "transient keys are not written, as nbformat strips them");
        assert!(written.contains("\"version\": 3"), "VS Code's integer version is kept: {written}");
        assert!(parse(&written).is_ok());
    }
}
