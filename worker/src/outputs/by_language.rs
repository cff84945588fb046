//! How to ask a running kernel for declared outputs, per kernel language.
//!
//! - Python (ipykernel, xeus-python): `user_expressions` in a silent execute
//!   request; the reply carries each value as JSON text.
//! - R (IRkernel): IRkernel answers every `user_expressions` with an empty map
//!   (`R/execution.r`: `user_expressions = namedlist()`), and stays quiet on a
//!   silent request. So a non-silent request runs a small base-R encoder (no
//!   package, not even jsonlite, whose `digits` stops at 15 significant digits)
//!   that prints one marked line of JSON to stdout, which we read from iopub.
//! - Anything else (bash_kernel answers `user_expressions` with `{}` too): a clear
//!   error naming the kernel, before anything is sent.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::translate::Language;

/// Starts the line the R encoder prints; unlikely in anything a notebook prints.
const MARKER: &str = "\u{1e}deckle-outputs ";

/// What to send for declared outputs, and how to read the answer.
#[derive(Debug, Clone)]
pub enum Query {
    /// Expressions for `execute_request`'s `user_expressions`, by output name.
    UserExpressions(HashMap<String, String>),
    /// Code whose stdout holds a [`MARKER`] line: `{name: answer}` as JSON.
    Printed(String),
}

impl Query {
    /// The code to run.
    pub fn code(&self) -> &str {
        match self {
            Query::UserExpressions(_) => "",
            Query::Printed(code) => code,
        }
    }

    /// The user expressions to send with it, if any.
    pub fn user_expressions(&self) -> Option<HashMap<String, String>> {
        match self {
            Query::UserExpressions(e) => Some(e.clone()),
            Query::Printed(_) => None,
        }
    }

    /// Silent requests have no output on iopub; the printed kind needs its stdout.
    pub fn silent(&self) -> bool {
        matches!(self, Query::UserExpressions(_))
    }

    /// The answer must wait for the kernel's `idle` on iopub (its stdout comes
    /// there, possibly after the shell reply).
    pub fn reads_stdout(&self) -> bool {
        matches!(self, Query::Printed(_))
    }

    /// The answers in `user_expressions` form (`{name: {status, data | ename, evalue}}`),
    /// from the execute reply and the request's stdout.
    pub fn answers(&self, reply: &Value, stdout: &str) -> Result<Value> {
        match self {
            Query::UserExpressions(_) => Ok(reply.get("user_expressions").cloned().unwrap_or(Value::Null)),
            Query::Printed(_) => {
                if reply.get("status").and_then(Value::as_str) == Some("error") {
                    let evalue = reply.get("evalue").and_then(Value::as_str).unwrap_or("");
                    return Err(Error::Protocol(format!("the kernel failed to report declared outputs: {evalue}")));
                }
                let line = stdout
                    .rsplit_once(MARKER)
                    .map(|(_, rest)| rest.lines().next().unwrap_or(""))
                    .ok_or_else(|| Error::Protocol("the kernel printed no declared outputs".into()))?;
                let printed: Map<String, Value> = serde_json::from_str(line)
                    .map_err(|e| Error::Protocol(format!("the kernel's declared outputs are not JSON: {e}")))?;
                Ok(Value::Object(printed.into_iter().map(|(name, answer)| (name, as_user_expression(answer))).collect()))
            }
        }
    }
}

/// `{"status": "ok", "value": V}` as a `user_expressions` result whose text is V's JSON.
fn as_user_expression(mut answer: Value) -> Value {
    match answer.get_mut("value").map(Value::take) {
        Some(v) if answer["status"] == "ok" => json!({"status": "ok", "data": {"text/plain": v.to_string()}, "metadata": {}}),
        _ => answer,
    }
}

/// The query for `names` on the notebook's kernel, by the language the kernel
/// reported (`language_info`), else the kernelspec's, else what papermill's registry
/// says of the kernel name. A notebook that says nothing is taken for Python.
pub fn query_for(nb: &Value, names: &[String]) -> Result<Query> {
    let meta = &nb["metadata"];
    let kernel = meta["kernelspec"]["name"].as_str().unwrap_or("");
    let language = [&meta["language_info"]["name"], &meta["kernelspec"]["language"]]
        .into_iter()
        .filter_map(Value::as_str)
        .find(|l| !l.is_empty())
        .map(str::to_ascii_lowercase)
        .or_else(|| match crate::translate::find_translator(kernel, None) {
            Ok(Language::R) => Some("r".into()),
            Ok(Language::Python) | Err(_) => None,
            Ok(other) => Some(format!("{other:?}").to_ascii_lowercase()),
        })
        .unwrap_or_else(|| "python".into());
    match language.as_str() {
        "python" => Ok(Query::UserExpressions(super::python_expressions(names))),
        "r" => Ok(Query::Printed(r_program(names))),
        _ => Err(Error::Output {
            name: names.join(", "),
            message: format!(
                "kernel '{kernel}' (language {language}) cannot report declared outputs; they need a Python or R kernel. \
                 Record values as scrapbook scraps, or write them to a file and pass its path"
            ),
        }),
    }
}

/// The R program that prints `names` as JSON. Values: NULL and NA are null; a
/// length-1 vector is a scalar (unless wrapped in `I()`), others arrays; names
/// make objects (an empty named list `{}`); data frames are arrays of row objects, matrices arrays of rows;
/// factors, dates and times are strings. Doubles print with 15 significant digits,
/// 17 when 15 do not round-trip. NaN, Inf and unsupported classes are errors.
fn r_program(names: &[String]) -> String {
    let names = names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
    format!("local({{\n{R_ENCODER}\n.deckle_print(c({names}))\n}})\n")
}

const R_ENCODER: &str = r#".str <- function(x) {
    out <- paste0("\"", x, "\"")
    slow <- !is.na(x) & grepl("[^ -~]|[\"\\\\]", x, useBytes = TRUE)
    out[slow] <- vapply(x[slow], function(s) {
        cp <- utf8ToInt(enc2utf8(s))
        if (anyNA(cp)) stop("ValueError: a string is not valid UTF-8", call. = FALSE)
        plain <- cp >= 32L & cp < 127L & cp != 34L & cp != 92L
        ch <- character(length(cp))
        ch[plain] <- intToUtf8(cp[plain], multiple = TRUE)
        wide <- !plain & cp > 65535L
        v <- cp[wide] - 65536L
        ch[wide] <- sprintf("\\u%04x\\u%04x", 55296L + v %/% 1024L, 56320L + v %% 1024L)
        narrow <- !plain & !wide
        ch[narrow] <- sprintf("\\u%04x", cp[narrow])
        paste0("\"", paste(ch, collapse = ""), "\"")
    }, "", USE.NAMES = FALSE)
    out[is.na(x)] <- "null"
    out
}
.num <- function(x) {
    if (any(is.nan(x) | is.infinite(x))) stop("ValueError: NaN and infinite numbers have no JSON form", call. = FALSE)
    out <- rep("null", length(x))
    ok <- !is.na(x)
    out[ok] <- sprintf("%.15g", x[ok])
    loose <- ok
    loose[ok] <- as.numeric(out[ok]) != x[ok]
    out[loose] <- sprintf("%.17g", x[loose])
    out
}
.wrap <- function(items, nm, scalar) {
    if (!is.null(nm) && length(items) == 0) {
        "{}"
    } else if (!is.null(nm) && all(!is.na(nm) & nzchar(nm))) {
        paste0("{", paste0(.str(nm), ":", items, collapse = ","), "}")
    } else if (scalar && length(items) == 1) {
        items
    } else {
        paste0("[", paste(items, collapse = ","), "]")
    }
}
.enc <- function(x) {
    if (is.null(x)) return("null")
    if (is.data.frame(x)) {
        x <- lapply(seq_len(nrow(x)), function(i) lapply(x, function(col) col[[i]]))
    } else if (is.matrix(x) && is.atomic(x)) {
        x <- lapply(seq_len(nrow(x)), function(i) I(unname(x[i, ])))
    }
    if (is.factor(x) || inherits(x, "Date") || inherits(x, "POSIXt")) {
        x <- structure(as.character(x), names = names(x))
    }
    if (is.list(x)) return(.wrap(vapply(x, .enc, "", USE.NAMES = FALSE), names(x), FALSE))
    if (!is.atomic(x) || is.complex(x) || is.raw(x)) {
        stop(sprintf("TypeError: an object of class %s", paste(class(x), collapse = "/")), call. = FALSE)
    }
    items <- if (is.logical(x)) {
        ifelse(is.na(x), "null", ifelse(x, "true", "false"))
    } else if (is.integer(x)) {
        ifelse(is.na(x), "null", as.character(x))
    } else if (is.double(x)) {
        .num(x)
    } else {
        .str(as.character(x))
    }
    .wrap(items, names(x), !inherits(x, "AsIs"))
}
.answer <- function(n) {
    if (!exists(n, envir = .GlobalEnv, inherits = FALSE)) return("{\"status\":\"error\",\"ename\":\"NameError\",\"evalue\":\"\"}")
    tryCatch(
        paste0("{\"status\":\"ok\",\"value\":", .enc(get(n, envir = .GlobalEnv)), "}"),
        error = function(e) {
            m <- conditionMessage(e)
            kind <- if (grepl("^(TypeError|ValueError): ", m)) sub(": .*", "", m) else "Error"
            paste0("{\"status\":\"error\",\"ename\":", .str(kind), ",\"evalue\":", .str(sub("^(TypeError|ValueError): ", "", m)), "}")
        }
    )
}
.deckle_print <- function(names) {
    cat("\n", "\036deckle-outputs {", paste0(.str(names), ":", vapply(names, .answer, ""), collapse = ","), "}\n", sep = "")
    invisible(NULL)
}"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn nb(language: &str, kernel: &str) -> Value {
        json!({"metadata": {"kernelspec": {"name": kernel, "language": language}, "language_info": {"name": language}}})
    }

    #[test]
    fn python_and_r_kernels_get_their_own_query_and_others_a_clear_error() {
        let names = vec!["total".to_string(), "label".to_string()];
        assert!(matches!(query_for(&nb("python", "python3"), &names), Ok(Query::UserExpressions(e)) if e.len() == 2));
        let r = query_for(&nb("R", "ir"), &names).unwrap();
        assert!(!r.silent() && r.reads_stdout() && r.code().contains(r#".deckle_print(c("total", "label"))"#), "{}", r.code());
        let e = query_for(&nb("bash", "bash"), &names).unwrap_err().to_string();
        assert!(e.contains("kernel 'bash' (language bash) cannot report declared outputs"), "{e}");
        assert!(e.contains("total, label"), "{e}");
        // Without language metadata: the kernel name decides, and silence means Python.
        let bare = |kernel: &str| json!({"metadata": {"kernelspec": {"name": kernel}}});
        assert!(matches!(query_for(&bare("sparkrkernel"), &names), Ok(Query::Printed(_))));
        assert!(matches!(query_for(&bare("python3"), &names), Ok(Query::UserExpressions(_))));
        assert!(matches!(query_for(&json!({}), &names), Ok(Query::UserExpressions(_))));
        let e = query_for(&bare("bash"), &names).unwrap_err().to_string();
        assert!(e.contains("kernel 'bash' (language bash)"), "{e}");
    }

    #[test]
    fn printed_answers_become_user_expression_results() {
        let q = Query::Printed(String::new());
        let stdout = "noise\n\u{1e}deckle-outputs {\"x\":{\"status\":\"ok\",\"value\":[1,2.5,\"\\u00e9\"]},\"y\":{\"status\":\"error\",\"ename\":\"NameError\",\"evalue\":\"\"}}\n";
        let a = q.answers(&json!({"status": "ok"}), stdout).unwrap();
        assert_eq!(super::super::parse_expression_result("x", a.get("x")).unwrap(), json!([1, 2.5, "é"]));
        let e = super::super::parse_expression_result("y", a.get("y")).unwrap_err().to_string();
        assert!(e.contains("never set it"), "{e}");
        let e = q.answers(&json!({"status": "ok"}), "nothing printed").unwrap_err().to_string();
        assert!(e.contains("printed no declared outputs"), "{e}");
    }
}
