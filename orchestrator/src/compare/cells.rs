//! Two output notebooks, cell by cell: each cell's source, the text of its outputs
//! (streams, plain text, errors), its images and its duration, matched across the
//! notebooks by cell id (a diff of the id sequences, so an inserted cell does not
//! shift the rest) or, without ids, by position.

use deckle_protocol::compare::CellPair;
use serde_json::Value;

use super::lines::diff;

/// One cell as compared.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cell {
    id: Option<String>,
    kind: String,
    source: String,
    text: String,
    images: Vec<String>,
    error: Option<String>,
    duration: Option<f64>,
}

/// nbformat's multiline strings: a string or a list of lines.
fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts.iter().filter_map(Value::as_str).collect(),
        _ => String::new(),
    }
}

/// The cells of an output notebook.
pub fn cells(nb: &Value) -> Vec<Cell> {
    let Some(cells) = nb.get("cells").and_then(Value::as_array) else { return Vec::new() };
    cells
        .iter()
        .map(|c| {
            // The injected-parameters cell gets a new random id in every run (as
            // papermill's does): it is matched by its tag instead.
            let injected = c.pointer("/metadata/tags").and_then(Value::as_array).is_some_and(|t| t.iter().any(|t| t == deckle_notebook::inject::INJECTED_TAG));
            let id = if injected { Some(deckle_notebook::inject::INJECTED_TAG.to_string()) } else { c.get("id").and_then(Value::as_str).map(str::to_string) };
            let mut cell = Cell {
                id,
                kind: c.get("cell_type").and_then(Value::as_str).unwrap_or("code").to_string(),
                source: text(c.get("source")),
                duration: c.pointer("/metadata/papermill/duration").and_then(Value::as_f64),
                ..Cell::default()
            };
            for o in c.get("outputs").and_then(Value::as_array).into_iter().flatten() {
                match o.get("output_type").and_then(Value::as_str) {
                    Some("stream") => cell.text.push_str(&text(o.get("text"))),
                    Some("error") => {
                        let e = format!("{}: {}", o.get("ename").and_then(Value::as_str).unwrap_or("Error"), o.get("evalue").and_then(Value::as_str).unwrap_or(""));
                        cell.text.push_str(&e);
                        cell.text.push('\n');
                        cell.error = Some(e);
                    }
                    _ => {
                        let data = o.get("data");
                        let plain = text(data.and_then(|d| d.get("text/plain")));
                        if !plain.is_empty() {
                            cell.text.push_str(&plain);
                            cell.text.push('\n');
                        }
                        for mime in ["image/png", "image/jpeg"] {
                            let b64: String = text(data.and_then(|d| d.get(mime))).split_whitespace().collect();
                            if !b64.is_empty() {
                                cell.images.push(format!("data:{mime};base64,{b64}"));
                            }
                        }
                    }
                }
            }
            cell
        })
        .collect()
}

fn pair(index: usize, a: Option<&Cell>, b: Option<&Cell>) -> CellPair {
    let empty = Cell::default();
    let (ca, cb) = (a.unwrap_or(&empty), b.unwrap_or(&empty));
    let presence = match (a, b) {
        (Some(_), Some(_)) => "both",
        (Some(_), None) => "a",
        _ => "b",
    };
    CellPair {
        index,
        kind: a.or(b).map_or("code", |c| c.kind.as_str()).to_string(),
        presence: presence.to_string(),
        source_changed: ca.source != cb.source,
        source: diff(&ca.source, &cb.source),
        outputs_changed: ca.text != cb.text || ca.images != cb.images,
        outputs: diff(&ca.text, &cb.text),
        images_a: ca.images.clone(),
        images_b: cb.images.clone(),
        error_a: ca.error.clone(),
        error_b: cb.error.clone(),
        duration_a: ca.duration,
        duration_b: cb.duration,
    }
}

/// `a`'s cells against `b`'s.
pub fn compare(a: &[Cell], b: &[Cell]) -> Vec<CellPair> {
    let with_ids = !a.is_empty() && !b.is_empty() && a.iter().chain(b).all(|c| c.id.is_some());
    if !with_ids {
        return (0..a.len().max(b.len())).map(|i| pair(i, a.get(i), b.get(i))).collect();
    }
    // Ids contain no newline (nbformat: [a-zA-Z0-9-_]{1,64}): a line diff of them aligns the cells.
    let ids = |cs: &[Cell]| cs.iter().map(|c| c.id.clone().unwrap_or_default()).collect::<Vec<_>>().join("\n");
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    for l in diff(&ids(a), &ids(b)) {
        match l.op.as_str() {
            " " => {
                out.push(pair(i, a.get(i), b.get(j)));
                i += 1;
                j += 1;
            }
            "-" => {
                out.push(pair(i, a.get(i), None));
                i += 1;
            }
            _ => {
                out.push(pair(j, None, b.get(j)));
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nb(cells: Value) -> Value {
        json!({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    }

    #[test]
    fn outputs_errors_images_and_durations_are_read() {
        let c = cells(&nb(json!([
            {"cell_type": "code", "id": "a", "source": ["x = 1\n", "print(x)"], "metadata": {"papermill": {"duration": 0.25}},
             "outputs": [{"output_type": "stream", "name": "stdout", "text": ["1\n"]},
                         {"output_type": "display_data", "data": {"text/plain": "<Figure>", "image/png": "iVBO\nRw0K"}, "metadata": {}}]},
            {"cell_type": "code", "id": "b", "source": "1/0", "metadata": {},
             "outputs": [{"output_type": "error", "ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": []}]},
        ])));
        assert_eq!(c[0].source, "x = 1\nprint(x)");
        assert_eq!(c[0].text, "1\n<Figure>\n");
        assert_eq!(c[0].images, ["data:image/png;base64,iVBORw0K"]);
        assert_eq!(c[0].duration, Some(0.25));
        assert_eq!(c[1].error.as_deref(), Some("ZeroDivisionError: division by zero"));
    }

    #[test]
    fn injected_parameters_cells_match_whatever_their_random_ids() {
        let injected = |id: &str, src: &str| json!({"cell_type": "code", "id": id, "source": src, "metadata": {"tags": ["injected-parameters"]}, "outputs": []});
        let a = cells(&nb(json!([injected("3f2a", "# Parameters\nlabel = \"blue\"")])));
        let b = cells(&nb(json!([injected("9c1d", "# Parameters\nlabel = \"red\"")])));
        let pairs = compare(&a, &b);
        assert_eq!(pairs.len(), 1);
        assert_eq!((pairs[0].presence.as_str(), pairs[0].source_changed), ("both", true));
    }

    #[test]
    fn cells_match_by_id_across_an_inserted_cell() {
        let a = cells(&nb(json!([
            {"cell_type": "code", "id": "p", "source": "x = 1", "metadata": {}, "outputs": []},
            {"cell_type": "code", "id": "q", "source": "print(x)", "metadata": {}, "outputs": [{"output_type": "stream", "name": "stdout", "text": "1\n"}]},
        ])));
        let b = cells(&nb(json!([
            {"cell_type": "code", "id": "p", "source": "x = 1", "metadata": {}, "outputs": []},
            {"cell_type": "code", "id": "new", "source": "x = 2", "metadata": {}, "outputs": []},
            {"cell_type": "code", "id": "q", "source": "print(x)", "metadata": {}, "outputs": [{"output_type": "stream", "name": "stdout", "text": "2\n"}]},
        ])));
        let pairs = compare(&a, &b);
        let shape: Vec<(&str, bool, bool)> = pairs.iter().map(|p| (p.presence.as_str(), p.source_changed, p.outputs_changed)).collect();
        assert_eq!(shape, [("both", false, false), ("b", true, false), ("both", false, true)]);
        assert_eq!(pairs[2].outputs.iter().map(|l| format!("{}{}", l.op, l.text)).collect::<Vec<_>>(), ["-1", "+2"]);
    }
}
