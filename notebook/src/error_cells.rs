//! papermill's error marker cells (`raise_for_execution_errors`): a red banner at the
//! top pointing at the first failed cell, and an anchor just above it. Both carry
//! [`ERROR_MARKER_TAG`], which the next preparation of the notebook removes.

use serde_json::{json, Value};

use crate::format::new_markdown_cell;
use crate::inject::ERROR_MARKER_TAG;

/// The style papermill gives both cells.
pub const ERROR_STYLE: &str = r#"style="color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;""#;
/// The banner; `%s` is the failed cell's execution count (`None` if it has none).
pub const ERROR_MESSAGE_TEMPLATE: &str = concat!(
    r#"<span style="color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;">"#,
    r##"An Exception was encountered at '<a href="#papermill-error-cell">In [%s]</a>'.</span>"##
);
/// The anchor above the failed cell.
pub const ERROR_ANCHOR_MSG: &str = concat!(
    r#"<span id="papermill-error-cell" style="color:red; font-family:Helvetica Neue, Helvetica, Arial, sans-serif; font-size:2em;">"#,
    "Execution using papermill encountered an exception here and stopped:</span>"
);

/// Whether the notebook already carries papermill's marker cells.
pub fn has_error_cells(nb: &Value) -> bool {
    nb["cells"].as_array().into_iter().flatten().any(|c| crate::format::tags(c).contains(&ERROR_MARKER_TAG))
}

/// Insert the two cells for the error papermill's `raise_for_execution_errors`
/// picks: the last error output before the first failed cell without one (a clean
/// `SystemExit` does not count). Returns that cell's index (before insertion), error name
/// and value; `None` (and nothing inserted) when no cell failed.
pub fn insert_error_cells(nb: &mut Value) -> Option<(usize, String, String)> {
    let cells = nb["cells"].as_array()?;
    let mut found: Option<(usize, Value, String, String)> = None;
    for (idx, cell) in cells.iter().enumerate() {
        let mut has_sys_exit = false;
        for o in cell["outputs"].as_array().into_iter().flatten() {
            if o["output_type"] == "error" {
                if o["ename"] == "SystemExit" && (o["evalue"] == "" || o["evalue"] == "0") {
                    has_sys_exit = true;
                    continue;
                }
                let text = |k: &str| o[k].as_str().unwrap_or_default().to_string();
                found = Some((idx, cell["execution_count"].clone(), text("ename"), text("evalue")));
                break;
            }
        }
        // As papermill: the scan goes on past a cell with an error output (a later
        // one wins) and stops at a failed cell that has none.
        if found.is_none() && !has_sys_exit && cell.pointer("/metadata/papermill/exception") == Some(&json!(true)) {
            found = Some((idx, cell["execution_count"].clone(), "CellExecutionError".into(), String::new()));
            break;
        }
    }
    let (idx, count, ename, evalue) = found?;
    let count = match count {
        Value::Null => "None".to_string(),
        v => v.to_string(),
    };
    let cells = nb["cells"].as_array_mut()?;
    cells.insert(idx, new_markdown_cell(ERROR_ANCHOR_MSG, &[ERROR_MARKER_TAG]));
    cells.insert(0, new_markdown_cell(&ERROR_MESSAGE_TEMPLATE.replace("%s", &count), &[ERROR_MARKER_TAG]));
    Some((idx, ename, evalue))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_error_output_gets_the_banner_and_the_anchor() {
        let mut nb = json!({"cells": [
            {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [], "source": "1"},
            {"cell_type": "code", "execution_count": 2, "metadata": {},
             "outputs": [{"output_type": "error", "ename": "ValueError", "evalue": "x", "traceback": []}], "source": "2"},
        ]});
        assert!(!has_error_cells(&nb));
        let (idx, ename, evalue) = insert_error_cells(&mut nb).unwrap();
        assert_eq!((idx, ename.as_str(), evalue.as_str()), (1, "ValueError", "x"));
        let cells = nb["cells"].as_array().unwrap();
        assert_eq!(cells.len(), 4);
        assert!(cells[0]["source"].as_str().unwrap().contains("In [2]"));
        assert_eq!(cells[2]["source"], ERROR_ANCHOR_MSG);
        assert!(ERROR_MESSAGE_TEMPLATE.contains(ERROR_STYLE) && ERROR_ANCHOR_MSG.contains(ERROR_STYLE));
        assert!(has_error_cells(&nb));
    }

    #[test]
    fn a_clean_system_exit_is_not_an_error() {
        let mut nb = json!({"cells": [{"cell_type": "code", "execution_count": 1, "metadata": {},
            "outputs": [{"output_type": "error", "ename": "SystemExit", "evalue": "0", "traceback": []}], "source": "1"}]});
        assert!(insert_error_cells(&mut nb).is_none());
        assert_eq!(nb["cells"].as_array().unwrap().len(), 1);
    }
}
