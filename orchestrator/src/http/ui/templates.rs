//! The UI's templates (`templates/`, compiled into the binary) and the one
//! minijinja environment that renders them.
//!
//! Auto-escaping is on for `.html` and `.svg` templates and goes through
//! [`super::escape::escape`], the escape the notebook renderer uses too: a value
//! reaches the page as text unless Rust marked it safe (the DAG's SVG, a rendered
//! notebook). Undefined names are errors, so a typo fails the tests rather than
//! showing an empty cell; `none` prints as nothing.

use std::sync::LazyLock;

use minijinja::{AutoEscape, Environment, Error, Output, State, UndefinedBehavior, Value};
use serde::Serialize;

use super::escape::{escape, url};

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("error.html", include_str!("templates/error.html")),
    ("login.html", include_str!("templates/login.html")),
    ("workflows.html", include_str!("templates/workflows.html")),
    ("workflow.html", include_str!("templates/workflow.html")),
    ("backfills.html", include_str!("templates/backfills.html")),
    ("backfill.html", include_str!("templates/backfill.html")),
    ("events.html", include_str!("templates/events.html")),
    ("trends.html", include_str!("templates/trends.html")),
    ("compare.html", include_str!("templates/compare.html")),
    ("workflow_trends.html", include_str!("templates/workflow_trends.html")),
    ("run.html", include_str!("templates/run.html")),
    ("attempt.html", include_str!("templates/attempt.html")),
    ("dag.svg", include_str!("templates/dag.svg")),
];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.set_auto_escape_callback(|name| match name.rsplit('.').next() {
        Some("html" | "svg") => AutoEscape::Html,
        _ => AutoEscape::None,
    });
    env.set_formatter(format_value);
    env.add_filter("url", |s: &str| url(s));
    for (name, source) in TEMPLATES {
        // Compiled in, and every one is rendered by the unit tests.
        env.add_template(name, source).expect("the UI templates parse");
    }
    env
});

/// Prints a value: escaped with [`escape`] where auto-escaping is on (not
/// minijinja's own, which writes `&#x27;` and `&#x2f;`), `none` as nothing.
fn format_value(out: &mut Output<'_>, state: &State<'_, '_>, value: &Value) -> Result<(), Error> {
    if value.is_none() {
        return Ok(());
    }
    if state.auto_escape() == AutoEscape::Html && !value.is_safe() && !value.is_undefined() {
        return out.write_str(&escape(&value.to_string())).map_err(Error::from);
    }
    minijinja::escape_formatter(out, state, value)
}

/// Render the template `name` with `ctx`.
pub fn render(name: &str, ctx: impl Serialize) -> Result<String, Error> {
    ENV.get_template(name)?.render(ctx)
}
