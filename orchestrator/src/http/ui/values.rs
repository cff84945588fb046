//! Recorded values (a node's outputs) shown as people read them, on the run and
//! attempt pages: one line per output, `"name": value`, where
//! - a list of records (a JSON array of objects, like a SQL node's `preview`) is a
//!   table: its columns the union of the records' keys in first-seen order, numbers
//!   right-aligned, nested values as compact JSON;
//! - a scalar is its JSON text (`2`, `false`, `"north"`: a string stays quoted, so
//!   `"3"` and `3` read differently), and a string of several lines is a text block;
//! - anything else is JSON: on one line when short, pretty-printed otherwise, and
//!   folded in a `<details>` showing its first lines when it is long.
//!
//! Everything taken from the values is escaped with [`super::escape`].

use serde_json::{Map, Value};

use super::escape::push_escaped;

/// JSON or text longer than this many lines is folded, and so is a table with more rows.
pub const FOLD_LINES: usize = 20;
/// The lines a folded block shows before it is opened.
pub const FOLDED_SHOWS: usize = 5;
/// Compact JSON up to this many characters is shown on one line.
const INLINE_CHARS: usize = 80;
/// A value up to this many characters is kept on its name's line.
const SHORT_CHARS: usize = 40;

/// The outputs as HTML, one `"name": value` line each; empty when there are none.
pub fn outputs_html(outputs: &Map<String, Value>) -> String {
    if outputs.is_empty() {
        return String::new();
    }
    let mut out = String::from("<div class=\"values\">");
    for (name, value) in outputs {
        // A short value stays on its name's line.
        out.push_str(if is_short(value) { "<div class=\"value short\">" } else { "<div class=\"value\">" });
        out.push_str("<span class=\"value-name\">");
        push_escaped(&mut out, &Value::from(name.as_str()).to_string());
        out.push_str("</span>: ");
        push_value(&mut out, value);
        out.push_str("</div>");
    }
    out.push_str("</div>");
    out
}

/// The records of a list of records: a non-empty array of objects with a key among them.
fn records(v: &Value) -> Option<Vec<&Map<String, Value>>> {
    let rows: Vec<&Map<String, Value>> = v
        .as_array()?
        .iter()
        .map(Value::as_object)
        .collect::<Option<_>>()?;
    rows.iter().any(|r| !r.is_empty()).then_some(rows)
}

/// A value shown as one short line of JSON.
fn is_short(v: &Value) -> bool {
    match v {
        Value::String(s) if s.contains('\n') => false,
        Value::Array(_) if records(v).is_some() => false,
        _ => v.to_string().chars().count() <= SHORT_CHARS,
    }
}

fn push_value(out: &mut String, v: &Value) {
    if let Some(rows) = records(v) {
        return push_table(out, &rows);
    }
    match v {
        Value::String(s) if s.contains('\n') => push_block(out, "text", s),
        Value::Array(_) | Value::Object(_) => {
            let compact = v.to_string();
            if compact.chars().count() <= INLINE_CHARS {
                push_span(out, "json", &compact);
            } else {
                push_block(
                    out,
                    "json",
                    &serde_json::to_string_pretty(v).unwrap_or(compact),
                );
            }
        }
        Value::Number(_) => push_span(out, "scalar num", &v.to_string()),
        _ => push_span(out, "scalar", &v.to_string()),
    }
}

/// `<code class="{class}">text</code>`.
fn push_span(out: &mut String, class: &str, text: &str) {
    out.push_str("<code class=\"");
    out.push_str(class);
    out.push_str("\">");
    push_escaped(out, text);
    out.push_str("</code>");
}

/// A block of text or JSON: whole when short; folded when long, its first lines
/// shown until it is opened.
fn push_block(out: &mut String, class: &str, text: &str) {
    let lines = text.lines().count();
    if lines <= FOLD_LINES {
        out.push_str("<pre class=\"");
        out.push_str(class);
        out.push_str("\">");
        push_escaped(out, text);
        out.push_str("</pre>");
        return;
    }
    let head_end = text
        .match_indices('\n')
        .nth(FOLDED_SHOWS - 1)
        .map_or(text.len(), |(i, _)| i);
    out.push_str("<details class=\"fold\"><summary><code class=\"fold-head\">");
    push_escaped(out, &text[..head_end]);
    out.push_str(&format!(
        "</code><span class=\"fold-closed\">… {} more lines</span><span class=\"fold-open\">{lines} lines</span></summary><pre class=\"{class}\">",
        lines - FOLDED_SHOWS
    ));
    push_escaped(out, text);
    out.push_str("</pre></details>");
}

/// A list of records as a table; folded when it has more than [`FOLD_LINES`] rows.
fn push_table(out: &mut String, rows: &[&Map<String, Value>]) {
    let mut columns: Vec<&str> = Vec::new();
    for row in rows {
        for key in row.keys() {
            if !columns.contains(&key.as_str()) {
                columns.push(key);
            }
        }
    }
    let fold = rows.len() > FOLD_LINES;
    if fold {
        out.push_str(&format!(
            "<details class=\"fold\"><summary>{} rows × {} columns</summary>",
            rows.len(),
            columns.len()
        ));
    }
    out.push_str("<table class=\"records\"><thead><tr>");
    for col in &columns {
        // A column of numbers (and nulls) has its heading over its numbers.
        let numeric = rows
            .iter()
            .filter_map(|r| r.get(*col))
            .filter(|v| !v.is_null())
            .all(Value::is_number);
        out.push_str(if numeric {
            "<th class=\"num\">"
        } else {
            "<th>"
        });
        push_escaped(out, col);
        out.push_str("</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for col in &columns {
            match row.get(*col) {
                None => out.push_str("<td class=\"missing\"></td>"),
                Some(Value::Null) => out.push_str("<td class=\"null\">null</td>"),
                Some(Value::String(s)) => {
                    out.push_str("<td>");
                    push_escaped(out, s);
                    out.push_str("</td>");
                }
                Some(v @ Value::Number(_)) => {
                    out.push_str("<td class=\"num\">");
                    push_escaped(out, &v.to_string());
                    out.push_str("</td>");
                }
                Some(v @ Value::Bool(_)) => {
                    out.push_str("<td class=\"bool\">");
                    push_escaped(out, &v.to_string());
                    out.push_str("</td>");
                }
                Some(nested) => {
                    out.push_str("<td><code class=\"json\">");
                    push_escaped(out, &nested.to_string());
                    out.push_str("</code></td>");
                }
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    if fold {
        out.push_str("</details>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn html(v: Value) -> String {
        outputs_html(v.as_object().unwrap())
    }

    #[test]
    fn a_preview_is_a_table_with_numbers_right_aligned() {
        let h = html(json!({
            "row_count": 1234,
            "columns": ["region", "sales", "extra"],
            "preview": [
                {"region": "north", "sales": 12.5, "n": 3},
                {"region": "south", "sales": null, "extra": {"a": [1, 2]}, "n": 4},
                {"ok": true},
            ],
        }));
        assert!(h.starts_with("<div class=\"values\">"), "{h}");
        assert!(h.contains("<div class=\"value short\"><span class=\"value-name\">&quot;row_count&quot;</span>: <code class=\"scalar num\">1234</code></div>"), "{h}");
        assert!(h.contains("<span class=\"value-name\">&quot;columns&quot;</span>: <code class=\"json\">[&quot;region&quot;,&quot;sales&quot;,&quot;extra&quot;]</code>"), "{h}");
        // Columns: the union of the keys, in first-seen order.
        assert!(h.contains(
            "<table class=\"records\"><thead><tr><th>region</th><th class=\"num\">sales</th><th class=\"num\">n</th><th>extra</th><th>ok</th></tr></thead>"
        ), "{h}");
        assert!(h.contains("<tr><td>north</td><td class=\"num\">12.5</td><td class=\"num\">3</td><td class=\"missing\"></td><td class=\"missing\"></td></tr>"), "{h}");
        assert!(h.contains("<td class=\"null\">null</td><td class=\"num\">4</td><td><code class=\"json\">{&quot;a&quot;:[1,2]}</code></td>"), "{h}");
        assert!(
            h.contains("<td class=\"bool\">true</td></tr></tbody></table>"),
            "{h}"
        );
        assert!(!h.contains("<details"), "20 rows or fewer are not folded");
    }

    #[test]
    fn scalars_read_as_their_json() {
        let h = html(
            json!({"rows": 2, "ok": false, "done": "from the browser", "none": null, "empty": [], "obj": {}}),
        );
        for line in [
            "&quot;rows&quot;</span>: <code class=\"scalar num\">2</code>",
            "&quot;ok&quot;</span>: <code class=\"scalar\">false</code>",
            "&quot;done&quot;</span>: <code class=\"scalar\">&quot;from the browser&quot;</code>",
            "&quot;none&quot;</span>: <code class=\"scalar\">null</code>",
            "&quot;empty&quot;</span>: <code class=\"json\">[]</code>",
            "&quot;obj&quot;</span>: <code class=\"json\">{}</code>",
        ] {
            assert!(h.contains(line), "{line}: {h}");
        }
        assert_eq!(outputs_html(&Map::new()), "");
        // A text of several lines is a block.
        let h = html(json!({"log": "a\n<b>\n"}));
        assert!(
            h.contains("<pre class=\"text\">a\n&lt;b&gt;\n</pre>"),
            "{h}"
        );
    }

    #[test]
    fn hostile_keys_and_values_are_escaped() {
        const H: &str = "<script>alert('x')</script>\"&";
        let h = html(json!({
            H: H,
            "rows": [{H: H, "n": 1}, {"nested": {H: [H]}}],
            "long": (0..40).map(|i| json!({"k": format!("{H}{i}")})).collect::<Vec<_>>(),
            "multi": format!("{H}\n{H}"),
            "big": {"a": (0..30).map(|_| H).collect::<Vec<_>>()},
        }));
        assert!(!h.contains("<script") && !h.contains("alert('x')"), "{h}");
        let esc = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;";
        assert!(h.contains(&format!("<th>{esc}&quot;&amp;</th>")), "{h}");
        assert!(h.contains(&format!("<td>{esc}&quot;&amp;</td>")), "{h}");
        assert!(
            h.contains(&format!(
                "<span class=\"value-name\">&quot;{esc}\\&quot;&amp;&quot;</span>"
            )),
            "{h}"
        );
        // Tags are only those the renderer writes.
        let tags: std::collections::BTreeSet<&str> = h
            .split('<')
            .skip(1)
            .map(|t| t.split([' ', '>']).next().unwrap().trim_start_matches('/'))
            .collect();
        let allowed = [
            "div", "span", "code", "pre", "table", "thead", "tbody", "tr", "th", "td", "details",
            "summary",
        ];
        assert!(tags.iter().all(|t| allowed.contains(t)), "{tags:?}");
    }

    #[test]
    fn long_json_and_long_tables_are_folded() {
        let items: Vec<String> = (0..30).map(|i| format!("item <{i}>")).collect();
        let h = html(json!({"list": items}));
        let pretty = serde_json::to_string_pretty(&json!(items)).unwrap();
        assert_eq!(pretty.lines().count(), 32);
        assert!(h.contains(
            "<details class=\"fold\"><summary><code class=\"fold-head\">[\n  &quot;item &lt;0&gt;&quot;,\n  &quot;item &lt;1&gt;&quot;,\n  &quot;item &lt;2&gt;&quot;,\n  &quot;item &lt;3&gt;&quot;,</code>\
             <span class=\"fold-closed\">… 27 more lines</span><span class=\"fold-open\">32 lines</span></summary><pre class=\"json\">[\n  &quot;item &lt;0&gt;&quot;,"
        ), "{h}");
        assert!(
            h.contains("&quot;item &lt;29&gt;&quot;\n]</pre></details>"),
            "the whole JSON inside: {h}"
        );
        // 20 lines are not folded; 21 are.
        let short: Vec<u32> = (0..18).collect();
        assert!(!html(json!({"l": short})).contains("<details"));
        let text = (0..21)
            .map(|i| format!("line {i}"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(html(json!({"t": text})).contains("<details class=\"fold\"><summary><code class=\"fold-head\">line 0\nline 1\nline 2\nline 3\nline 4</code>"));
        // A table of more than 20 rows is folded, its size in the summary.
        let rows: Vec<Value> = (0..21).map(|i| json!({"i": i, "s": "x"})).collect();
        let h = html(json!({"preview": rows}));
        assert!(h.contains("<details class=\"fold\"><summary>21 rows × 2 columns</summary><table class=\"records\">"), "{h}");
    }
}
