//! From the YAML tree to a [`Workflow`]: keys, types, defaults and expressions.
//!
//! Every problem is reported to the [`Sink`] and parsing goes on, so one pass
//! lists them all. A broken node still yields a placeholder [`Node`] under its id,
//! so later checks do not pile "unknown node" errors on top of the real one.
//! Positions of the values later checks need are kept in [`Spans`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value;

use deckle_protocol::sql::SqlEngine;

use crate::diag::{Pos, Sink};
use crate::duration;
use crate::expr::{Expr, Template};
use crate::model::*;
use crate::yaml::{Entry, YNode, Yaml};

/// Where things were written, for checks that run after parsing.
#[derive(Debug, Default)]
pub(crate) struct Spans {
    pub root: Pos,
    pub cron: Option<Pos>,
    pub timezone: Option<Pos>,
    /// `engines:` keys.
    pub engines: IndexMap<String, Pos>,
    pub nodes: IndexMap<String, NodeSpans>,
    /// How many entries `triggers:` lists (parsed or not).
    pub trigger_entries: usize,
    /// One per parsed trigger, aligned with `Workflow::triggers`.
    pub triggers: Vec<TriggerSpans>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct TriggerSpans {
    /// The entry's place under `triggers:`, from 1.
    pub number: usize,
    /// The entry.
    pub pos: Pos,
    /// Key and value positions, by param name.
    pub params: IndexMap<String, (Pos, Pos)>,
    pub when: Option<Pos>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct NodeSpans {
    /// The node id (its key under `nodes:`).
    pub key: Pos,
    pub notebook: Option<Pos>,
    pub engine: Option<Pos>,
    pub query: Option<Pos>,
    pub save_to: Option<Pos>,
    /// One per `needs` entry, aligned with `Node::needs`.
    pub needs: Vec<Pos>,
    /// Value positions, by param name.
    pub params: IndexMap<String, Pos>,
    /// Key positions, by param name.
    pub param_keys: IndexMap<String, Pos>,
    /// One per declared output, aligned with `Node::outputs`.
    pub outputs: Vec<Pos>,
    pub when: Option<Pos>,
    pub foreach: Option<Pos>,
    /// `wait.files`.
    pub wait_files: Option<Pos>,
    /// `wait.match` value positions, by name.
    pub wait_match: IndexMap<String, Pos>,
}

const ENGINES: &[&str] = SqlEngine::NAMES;
const TOP_KEYS: &[&str] = &[
    "workflow", "description", "schedule", "triggers", "params", "defaults", "engines", "nodes", "max_active_runs", "run_strategy",
    "on_failure", "on_success",
];
const HOOK_KEYS: &[&str] = &["webhook", "notebook"];
const WEBHOOK_KEYS: &[&str] = &["url", "retries", "timeout"];
const STRATEGIES: &[&str] = &["parallel", "sequential"];
const SCHEDULE_KEYS: &[&str] = &["cron", "timezone", "catchup"];
const PARAM_KEYS: &[&str] = &["type", "default", "secret", "description"];
const DEFAULT_KEYS: &[&str] = &["retries", "retry_delay", "timeout", "kernel", "trigger", "labels", "foreach_parallel"];
const NODE_KEYS: &[&str] = &[
    "notebook", "sql", "wait", "needs", "params", "outputs", "when", "trigger", "foreach", "foreach_parallel", "retries",
    "retry_delay", "timeout", "kernel", "labels",
];
const SQL_KEYS: &[&str] = &["engine", "query", "save_to"];
/// What a node runs: exactly one of these.
const NODE_KINDS: &[&str] = &["notebook", "sql", "wait"];
/// Node keys a wait node refuses, with why.
const NOT_ON_WAIT: &[(&str, &str)] = &[
    ("params", "it runs no notebook (templates go in `wait:` itself)"),
    ("outputs", "its outputs are fixed by what it waits for"),
    ("foreach", "it does not fan out"),
    ("foreach_parallel", "it does not fan out"),
    ("kernel", "it runs on the coordinator, not on a worker"),
    ("labels", "it runs on the coordinator, not on a worker"),
    ("retries", "it is not retried (see `wait.on_timeout`)"),
    ("retry_delay", "it is not retried (see `wait.on_timeout`)"),
    ("timeout", "use `wait.timeout`"),
];
const WAIT_KINDS: &[&str] = &["files", "signal", "workflow"];
const WAIT_KEYS: &[&str] = &["files", "signal", "workflow", "match", "status", "timeout", "poll", "on_timeout"];
const ON_TIMEOUT: &[&str] = &["fail", "skip"];
const TRIGGER_KINDS: &[&str] = &["workflow", "signal", "files"];
const TRIGGER_KEYS: &[&str] = &["workflow", "signal", "files", "status", "when", "match", "params"];
/// Trigger keys that belong to one kind of trigger only, and that kind.
const TRIGGER_KIND_KEYS: &[(&str, &str)] = &[("status", "workflow"), ("when", "workflow"), ("match", "signal")];
const FILES_KEYS: &[&str] = &["path", "poll", "catchup"];
const STATUSES: &[&str] = &["succeeded", "failed", "finished"];
/// The shortest `poll` accepted.
const MIN_POLL: Duration = Duration::from_secs(1);
/// The longest signal name accepted.
const MAX_SIGNAL_NAME: usize = 128;
const TRIGGERS: &[&str] = &["all_success", "all_done", "one_success", "none_failed"];
const TYPES: &[&str] = &["string", "int", "float", "bool", "date", "list", "map"];
const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
    "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
];

/// Node settings that `defaults:` can set for every node.
#[derive(Debug, Clone)]
struct Defaults {
    retries: u32,
    retry_delay: Duration,
    timeout: Option<Duration>,
    kernel: Option<String>,
    trigger: TriggerRule,
    labels: Vec<String>,
    foreach_parallel: usize,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            retries: 0,
            retry_delay: Duration::ZERO,
            timeout: None,
            kernel: None,
            trigger: TriggerRule::AllSuccess,
            labels: Vec::new(),
            foreach_parallel: 4,
        }
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`: a name usable as a Python variable and a CEL field.
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_workflow_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Signal names appear in URLs: `[A-Za-z0-9_.-]+`, 1 to 128 characters.
fn is_signal_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_SIGNAL_NAME && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

/// Node ids name files and appear in expressions: a letter or `_`, then letters, digits, `_`, `-`.
fn is_node_id(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The closest candidate within a small edit distance, for "did you mean".
pub(crate) fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len().max(word.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn one_of(list: &[&str]) -> String {
    list.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
}

/// "both `a` and `b`", or "`a`, `b` and `c`": keys that exclude each other.
fn all_of(keys: &[&str]) -> String {
    match keys {
        [a, b] => format!("both `{a}` and `{b}`"),
        [init @ .., last] => format!("{} and `{last}`", one_of(init)),
        [] => String::new(),
    }
}

/// "`a`, `b` or `c`".
fn any_of(keys: &[&str]) -> String {
    match keys {
        [init @ .., last] if !init.is_empty() => format!("{} or `{last}`", one_of(init)),
        _ => one_of(keys),
    }
}

/// A value as written, for messages.
fn as_written(n: &YNode) -> String {
    match &n.value {
        Yaml::Str(s) => s.clone(),
        _ => n.to_json().to_string(),
    }
}

struct Parser<'s> {
    sink: &'s mut Sink,
}

impl Parser<'_> {
    /// The entries of a map, after reporting unknown and missing keys.
    fn fields<'a>(&mut self, n: &'a YNode, what: &str, allowed: &[&str], required: &[&str]) -> Option<IndexMap<&'a str, &'a Entry>> {
        let Yaml::Map(entries) = &n.value else {
            self.sink.error(n.pos, format!("{what} must be a map, got {}", n.kind()));
            return None;
        };
        let mut out = IndexMap::new();
        for e in entries {
            if allowed.contains(&e.key.as_str()) {
                out.insert(e.key.as_str(), e);
            } else {
                let hint = match suggest(&e.key, allowed.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("expected one of {}", one_of(allowed)),
                };
                self.sink.error(e.key_pos, format!("unknown key `{}` in {what} ({hint})", e.key));
            }
        }
        for r in required {
            if !out.contains_key(r) {
                self.sink.error(n.pos, format!("{what} is missing `{r}`"));
            }
        }
        Some(out)
    }

    fn string(&mut self, n: &YNode, what: &str) -> Option<String> {
        match &n.value {
            Yaml::Str(s) => Some(s.clone()),
            _ => {
                self.sink.error(n.pos, format!("{what} must be a string, got {}", n.kind()));
                None
            }
        }
    }

    fn bool(&mut self, n: &YNode, what: &str) -> Option<bool> {
        match &n.value {
            Yaml::Bool(b) => Some(*b),
            _ => {
                self.sink.error(n.pos, format!("{what} must be true or false, got {}", n.kind()));
                None
            }
        }
    }

    fn count(&mut self, n: &YNode, what: &str, min: i64) -> Option<i64> {
        match &n.value {
            Yaml::Int(i) if *i >= min && *i <= i64::from(u32::MAX) => Some(*i),
            Yaml::Int(i) if *i < min => {
                self.sink.error(n.pos, format!("{what} must be at least {min}, got {i}"));
                None
            }
            _ => {
                self.sink.error(n.pos, format!("{what} must be a whole number, got {}", n.kind()));
                None
            }
        }
    }

    fn duration(&mut self, n: &YNode, what: &str) -> Option<Duration> {
        let r = match &n.value {
            Yaml::Str(s) => duration::parse_duration(s),
            Yaml::Int(i) => duration::from_seconds(*i as f64),
            Yaml::Float(f) => duration::from_seconds(*f),
            _ => Err(format!("expected a duration like `30s` or `1h30m`, got {}", n.kind())),
        };
        r.map_err(|e| self.sink.error(n.pos, format!("{what}: {e}"))).ok()
    }

    /// A list of strings, or a single string.
    fn strings(&mut self, n: &YNode, what: &str) -> Vec<(String, Pos)> {
        match &n.value {
            Yaml::Str(s) => vec![(s.clone(), n.pos)],
            Yaml::Seq(items) => items.iter().filter_map(|i| self.string(i, &format!("each of {what}")).map(|s| (s, i.pos))).collect(),
            _ => {
                self.sink.error(n.pos, format!("{what} must be a list of strings, got {}", n.kind()));
                Vec::new()
            }
        }
    }

    fn trigger(&mut self, n: &YNode) -> Option<TriggerRule> {
        let s = self.string(n, "`trigger`")?;
        let rule = match s.as_str() {
            "all_success" => TriggerRule::AllSuccess,
            "all_done" => TriggerRule::AllDone,
            "one_success" => TriggerRule::OneSuccess,
            "none_failed" => TriggerRule::NoneFailed,
            other => {
                let hint = suggest(other, TRIGGERS.iter().copied()).map(|s| format!("did you mean `{s}`? ")).unwrap_or_default();
                self.sink.error(n.pos, format!("unknown trigger `{other}` ({hint}expected one of {})", one_of(TRIGGERS)));
                return None;
            }
        };
        Some(rule)
    }

    fn template(&mut self, n: &YNode, what: &str) -> Option<Template> {
        Template::parse(n.to_json()).map_err(|e| self.sink.error(n.pos, format!("bad expression in {what}: {e}"))).ok()
    }

    fn workflow(&mut self, root: &YNode, path: &Path) -> (Workflow, Spans) {
        let mut spans = Spans { root: root.pos, ..Spans::default() };
        let mut wf = Workflow {
            id: String::new(),
            description: None,
            schedule: None,
            params: IndexMap::new(),
            engines: IndexMap::new(),
            nodes: IndexMap::new(),
            path: path.to_path_buf(),
            max_active_runs: None,
            run_strategy: RunStrategy::Parallel,
            on_failure: None,
            on_success: None,
            triggers: Vec::new(),
        };
        let Some(f) = self.fields(root, "the workflow file", TOP_KEYS, &["workflow", "nodes"]) else {
            return (wf, spans);
        };
        if let Some(e) = f.get("workflow") {
            if let Some(id) = self.string(&e.value, "`workflow`") {
                if !is_workflow_id(&id) {
                    self.sink.error(e.value.pos, format!("workflow id `{id}` must match [a-z0-9_-]+"));
                }
                wf.id = id;
            }
        }
        if let Some(e) = f.get("description") {
            wf.description = self.string(&e.value, "`description`");
        }
        if let Some(e) = f.get("schedule") {
            wf.schedule = self.schedule(&e.value, &mut spans);
        }
        if let Some(e) = f.get("triggers") {
            wf.triggers = self.triggers(&e.value, &wf.id, &mut spans);
        }
        if let Some(e) = f.get("params") {
            wf.params = self.params(&e.value);
        }
        if let Some(e) = f.get("max_active_runs") {
            wf.max_active_runs = self.count(&e.value, "`max_active_runs`", 1).map(|i| i as u32);
        }
        if let Some(e) = f.get("run_strategy") {
            match self.string(&e.value, "`run_strategy`").as_deref() {
                Some("parallel") => wf.run_strategy = RunStrategy::Parallel,
                Some("sequential") => wf.run_strategy = RunStrategy::Sequential,
                Some(other) => {
                    let hint = suggest(other, STRATEGIES.iter().copied()).map(|s| format!("did you mean `{s}`? ")).unwrap_or_default();
                    self.sink.error(e.value.pos, format!("unknown run_strategy `{other}` ({hint}expected one of {})", one_of(STRATEGIES)));
                }
                None => {}
            }
        }
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if let Some(e) = f.get("on_failure") {
            wf.on_failure = self.hook(&e.value, "`on_failure`", &dir);
        }
        if let Some(e) = f.get("on_success") {
            wf.on_success = self.hook(&e.value, "`on_success`", &dir);
        }
        let defaults = match f.get("defaults") {
            Some(e) => self.defaults(&e.value),
            None => Defaults::default(),
        };
        if let Some(e) = f.get("engines") {
            wf.engines = self.engines(&e.value, &mut spans);
        }
        if let Some(e) = f.get("nodes") {
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            match &e.value.value {
                Yaml::Map(entries) if entries.is_empty() => self.sink.error(e.value.pos, "`nodes` is empty: a workflow needs at least one node"),
                Yaml::Map(entries) => {
                    for n in entries {
                        let (node, ns) = self.node(n, &defaults, &dir);
                        spans.nodes.insert(n.key.clone(), ns);
                        wf.nodes.insert(n.key.clone(), node);
                    }
                }
                Yaml::Null => self.sink.error(e.value.pos, "`nodes` is empty: a workflow needs at least one node"),
                _ => self.sink.error(e.value.pos, format!("`nodes` must be a map of node id to node, got {}", e.value.kind())),
            }
        }
        (wf, spans)
    }

    /// `on_failure: { webhook: URL | { url, retries, timeout }, notebook: PATH }`.
    fn hook(&mut self, n: &YNode, what: &str, dir: &Path) -> Option<Hook> {
        let f = self.fields(n, what, HOOK_KEYS, &[])?;
        if f.is_empty() {
            self.sink.error(n.pos, format!("{what} needs `webhook`, `notebook` or both"));
            return None;
        }
        let notebook = f.get("notebook").and_then(|e| {
            let rel = self.string(&e.value, &format!("`{what}.notebook`"))?;
            let path = dir.join(&rel);
            if let Err(why) = crate::notebook::inside_workflow_dir(dir, &rel, &path) {
                self.sink.error(e.value.pos, format!("{what}.notebook: `{rel}` {why}"));
            } else if !path.is_file() {
                self.sink.error(e.value.pos, format!("{what}.notebook: `{rel}` not found next to the workflow file"));
            }
            Some(HookNotebook { rel, path })
        });
        let webhook = match f.get("webhook") {
            Some(e) => Some(self.webhook(&e.value, &format!("{what}.webhook"))?),
            None => None,
        };
        Some(Hook { webhook, notebook })
    }

    fn webhook(&mut self, w: &YNode, what: &str) -> Option<WebhookSpec> {
        let mut hook = WebhookSpec { url: String::new(), retries: 3, timeout: Duration::from_secs(10) };
        if let Yaml::Str(url) = &w.value {
            hook.url = url.clone();
        } else {
            let f = self.fields(w, what, WEBHOOK_KEYS, &["url"])?;
            hook.url = self.string(&f.get("url")?.value, &format!("`{what}.url`"))?;
            if let Some(e) = f.get("retries") {
                hook.retries = self.count(&e.value, &format!("`{what}.retries`"), 0).map_or(3, |i| i as u32);
            }
            if let Some(e) = f.get("timeout") {
                hook.timeout = self.duration(&e.value, &format!("`{what}.timeout`")).unwrap_or(hook.timeout);
            }
        }
        if !(hook.url.starts_with("http://") || hook.url.starts_with("https://")) {
            self.sink.error(w.pos, format!("{what}: {:?} is not an http:// or https:// URL", hook.url));
            return None;
        }
        Some(hook)
    }

    fn schedule(&mut self, n: &YNode, spans: &mut Spans) -> Option<Schedule> {
        // `schedule: "0 3 * * *"` is shorthand for `{ cron: "0 3 * * *" }`.
        if let Yaml::Str(cron) = &n.value {
            spans.cron = Some(n.pos);
            let cron = self.cron(cron, n.pos)?;
            return Some(Schedule { cron, timezone: "UTC".into(), catchup: false });
        }
        let f = self.fields(n, "`schedule`", SCHEDULE_KEYS, &["cron"])?;
        let cron = f.get("cron").and_then(|e| {
            spans.cron = Some(e.value.pos);
            let text = self.string(&e.value, "`schedule.cron`")?;
            self.cron(&text, e.value.pos)
        });
        let timezone = match f.get("timezone") {
            Some(e) => {
                spans.timezone = Some(e.value.pos);
                self.string(&e.value, "`schedule.timezone`").unwrap_or_else(|| "UTC".into())
            }
            None => "UTC".into(),
        };
        // Without a time zone database (a bare container) every zone would look
        // unknown: only check when there is one.
        if !jiff::tz::db().is_definitively_empty() {
            if let Err(e) = crate::cron::time_zone(&timezone) {
                self.sink.error(spans.timezone.unwrap_or(n.pos), e);
            }
        }
        let catchup = f.get("catchup").and_then(|e| self.bool(&e.value, "`schedule.catchup`")).unwrap_or(false);
        Some(Schedule { cron: cron?, timezone, catchup })
    }

    /// A cron expression, parsed here once; a bad one is reported at `pos`.
    fn cron(&mut self, text: &str, pos: Pos) -> Option<crate::CronExpr> {
        crate::CronExpr::parse(text).map_err(|e| self.sink.error(pos, e)).ok()
    }

    fn params(&mut self, n: &YNode) -> IndexMap<String, ParamSpec> {
        let mut out = IndexMap::new();
        let Yaml::Map(entries) = &n.value else {
            if n.value != Yaml::Null {
                self.sink.error(n.pos, format!("`params` must be a map of name to `{{ type, default }}`, got {}", n.kind()));
            }
            return out;
        };
        for e in entries {
            let name = &e.key;
            if !is_identifier(name) || PYTHON_KEYWORDS.contains(&name.as_str()) {
                self.sink.error(e.key_pos, format!("param name `{name}` must be an identifier ([A-Za-z_][A-Za-z0-9_]*, not a Python keyword)"));
            }
            let what = format!("param `{name}`");
            let Some(f) = self.fields(&e.value, &what, PARAM_KEYS, &["type"]) else { continue };
            let ty = f.get("type").and_then(|t| {
                let s = self.string(&t.value, &format!("the type of {what}"))?;
                let ty = match s.as_str() {
                    "string" | "str" => ParamType::String,
                    "int" | "integer" => ParamType::Int,
                    "float" | "number" => ParamType::Float,
                    "bool" | "boolean" => ParamType::Bool,
                    "date" => ParamType::Date,
                    "list" => ParamType::List,
                    "map" => ParamType::Map,
                    other => {
                        self.sink.error(t.value.pos, format!("unknown type `{other}` for {what} (expected one of {})", one_of(TYPES)));
                        return None;
                    }
                };
                Some(ty)
            });
            let secret = f.get("secret").and_then(|s| self.bool(&s.value, &format!("`secret` of {what}"))).unwrap_or(false);
            let description = f.get("description").and_then(|d| self.string(&d.value, &format!("`description` of {what}")));
            let default = f.get("default").map(|d| {
                if let Some(ty) = ty {
                    self.check_default(ty, &d.value, &what);
                }
                if secret {
                    self.sink.warning(d.key_pos, format!("secret {what} has a default written in the workflow file; pass it at run time instead"));
                }
                d.value.to_json()
            });
            out.insert(name.clone(), ParamSpec { ty: ty.unwrap_or(ParamType::String), default, secret, description });
        }
        out
    }

    fn check_default(&mut self, ty: ParamType, v: &YNode, what: &str) {
        let ok = match (ty, &v.value) {
            (ParamType::String, Yaml::Str(_))
            | (ParamType::Int, Yaml::Int(_))
            | (ParamType::Float, Yaml::Float(_) | Yaml::Int(_))
            | (ParamType::Bool, Yaml::Bool(_))
            | (ParamType::List, Yaml::Seq(_))
            | (ParamType::Map, Yaml::Map(_)) => true,
            (ParamType::Date, Yaml::Str(s)) => {
                if !is_date(s) {
                    self.sink.error(v.pos, format!("default of {what} must be a date as YYYY-MM-DD, got `{s}`"));
                }
                true
            }
            _ => false,
        };
        if !ok {
            let name = TYPES[ty as usize];
            self.sink.error(v.pos, format!("default of {what} must be {} {name}, got {}", if name == "int" { "an" } else { "a" }, v.kind()));
        }
    }

    fn defaults(&mut self, n: &YNode) -> Defaults {
        let mut d = Defaults::default();
        let Some(f) = self.fields(n, "`defaults`", DEFAULT_KEYS, &[]) else { return d };
        if let Some(e) = f.get("retries") {
            d.retries = self.count(&e.value, "`defaults.retries`", 0).map_or(0, |i| i as u32);
        }
        if let Some(e) = f.get("retry_delay") {
            d.retry_delay = self.duration(&e.value, "`defaults.retry_delay`").unwrap_or_default();
        }
        if let Some(e) = f.get("timeout") {
            d.timeout = self.timeout(&e.value, "`defaults.timeout`");
        }
        if let Some(e) = f.get("kernel") {
            d.kernel = self.string(&e.value, "`defaults.kernel`");
        }
        if let Some(e) = f.get("trigger") {
            d.trigger = self.trigger(&e.value).unwrap_or_default();
        }
        if let Some(e) = f.get("labels") {
            d.labels = self.strings(&e.value, "`defaults.labels`").into_iter().map(|(s, _)| s).collect();
        }
        if let Some(e) = f.get("foreach_parallel") {
            d.foreach_parallel = self.count(&e.value, "`defaults.foreach_parallel`", 1).map_or(4, |i| i as usize);
        }
        d
    }

    /// A timeout: a positive duration, or null for none (overriding a default).
    fn timeout(&mut self, n: &YNode, what: &str) -> Option<Duration> {
        if n.value == Yaml::Null {
            return None;
        }
        let d = self.duration(n, what)?;
        if d.is_zero() {
            self.sink.error(n.pos, format!("{what} must be more than zero (omit it, or use null, for no timeout)"));
            return None;
        }
        Some(d)
    }

    fn engines(&mut self, n: &YNode, spans: &mut Spans) -> IndexMap<String, Value> {
        let mut out = IndexMap::new();
        let Some(f) = self.fields(n, "`engines`", ENGINES, &[]) else { return out };
        for (name, e) in f {
            if !matches!(e.value.value, Yaml::Map(_) | Yaml::Null) {
                self.sink.error(e.value.pos, format!("settings of engine `{name}` must be a map, got {}", e.value.kind()));
                continue;
            }
            // `presto` is an alias of `trino`: the same client speaks both.
            let name: &str = match SqlEngine::parse(name) {
                Some(engine) => engine.as_str(),
                None => name,
            };
            if out.contains_key(name) {
                self.sink.error(e.key_pos, "`presto` and `trino` are the same engine; configure only one");
                continue;
            }
            let settings = match e.value.to_json() {
                Value::Null => Value::Object(Default::default()),
                v => v,
            };
            spans.engines.insert(name.to_string(), e.key_pos);
            out.insert(name.to_string(), settings);
        }
        out
    }

    fn node(&mut self, entry: &Entry, d: &Defaults, dir: &Path) -> (Node, NodeSpans) {
        let id = entry.key.clone();
        let mut ns = NodeSpans { key: entry.key_pos, ..NodeSpans::default() };
        let mut node = Node {
            id: id.clone(),
            kind: NodeKind::Notebook { rel: String::new(), path: PathBuf::new() },
            needs: Vec::new(),
            params: IndexMap::new(),
            outputs: Vec::new(),
            when: None,
            trigger: d.trigger,
            foreach: None,
            foreach_parallel: d.foreach_parallel,
            retries: d.retries,
            retry_delay: d.retry_delay,
            timeout: d.timeout,
            kernel: d.kernel.clone(),
            labels: d.labels.clone(),
        };
        if !is_node_id(&id) {
            self.sink.error(entry.key_pos, format!("node id `{id}` must start with a letter or `_` and contain only letters, digits, `_` and `-`"));
        }
        let what = format!("node `{id}`");
        let Some(mut f) = self.fields(&entry.value, &what, NODE_KEYS, &[]) else { return (node, ns) };

        let kinds: Vec<(&str, &Entry)> = NODE_KINDS.iter().filter_map(|k| f.get(k).map(|e| (*k, *e))).collect();
        match kinds.as_slice() {
            [] => self.sink.error(entry.value.pos, format!("{what} needs {}", any_of(NODE_KINDS))),
            [("notebook", nb)] => {
                ns.notebook = Some(nb.value.pos);
                if let Some(rel) = self.string(&nb.value, &format!("`notebook` of {what}")) {
                    node.kind = NodeKind::Notebook { path: dir.join(&rel), rel };
                }
            }
            [("sql", s)] => {
                if let Some(sql) = self.sql(&s.value, &what, &mut ns) {
                    node.kind = NodeKind::Sql(sql);
                }
            }
            [(_, w)] => {
                // Only keys written on the node are refused: `defaults:` do not
                // apply to a wait node (it holds no worker and is never retried).
                for (key, why) in NOT_ON_WAIT {
                    if let Some(e) = f.shift_remove(key) {
                        self.sink.error(e.key_pos, format!("`{key}` of {what} has no effect on a wait node; {why}"));
                    }
                }
                node.retries = 0;
                node.retry_delay = Duration::ZERO;
                node.timeout = None;
                node.kernel = None;
                node.labels = Vec::new();
                if let Some(wait) = self.wait(&w.value, &what, &mut ns) {
                    node.kind = NodeKind::Wait(wait);
                }
            }
            [_, rest @ ..] => {
                let names: Vec<&str> = kinds.iter().map(|(k, _)| *k).collect();
                self.sink.error(rest[0].1.key_pos, format!("{what} has {}; give exactly one", all_of(&names)));
                // Still report what is wrong inside `sql` and `wait`.
                for (k, e) in &kinds {
                    match *k {
                        "sql" => drop(self.sql(&e.value, &what, &mut ns)),
                        "wait" => drop(self.wait(&e.value, &what, &mut ns)),
                        _ => {}
                    }
                }
            }
        }
        if let Some(e) = f.get("needs") {
            let mut seen: Vec<String> = Vec::new();
            for (need, pos) in self.strings(&e.value, &format!("`needs` of {what}")) {
                if seen.contains(&need) {
                    self.sink.error(pos, format!("{what} lists `{need}` in `needs` twice"));
                    continue;
                }
                seen.push(need.clone());
                node.needs.push(need);
                ns.needs.push(pos);
            }
        }
        if let Some(e) = f.get("params") {
            match &e.value.value {
                Yaml::Map(entries) => {
                    for p in entries {
                        if !is_identifier(&p.key) || PYTHON_KEYWORDS.contains(&p.key.as_str()) {
                            self.sink.error(p.key_pos, format!("param name `{}` of {what} must be an identifier (it becomes a notebook variable)", p.key));
                        }
                        ns.params.insert(p.key.clone(), p.value.pos);
                        ns.param_keys.insert(p.key.clone(), p.key_pos);
                        let t = self.template(&p.value, &format!("param `{}` of {what}", p.key));
                        node.params.insert(p.key.clone(), t.unwrap_or_else(|| Template::literal(Value::Null)));
                    }
                }
                Yaml::Null => {}
                _ => self.sink.error(e.value.pos, format!("`params` of {what} must be a map, got {}", e.value.kind())),
            }
        }
        if let Some(e) = f.get("outputs") {
            for (name, pos) in self.strings(&e.value, &format!("`outputs` of {what}")) {
                if !is_identifier(&name) {
                    self.sink.error(pos, format!("output `{name}` of {what} must be an identifier ([A-Za-z_][A-Za-z0-9_]*)"));
                } else if node.outputs.contains(&name) {
                    self.sink.error(pos, format!("output `{name}` of {what} is listed twice"));
                } else {
                    node.outputs.push(name);
                    ns.outputs.push(pos);
                }
            }
        }
        if let Some(e) = f.get("when") {
            ns.when = Some(e.value.pos);
            node.when = self.when(&e.value, &what);
        }
        if let Some(e) = f.get("trigger") {
            node.trigger = self.trigger(&e.value).unwrap_or_default();
        }
        if let Some(e) = f.get("foreach") {
            ns.foreach = Some(e.value.pos);
            match &e.value.value {
                Yaml::Seq(_) => node.foreach = self.template(&e.value, &format!("`foreach` of {what}")),
                Yaml::Str(s) if s.contains("${{") => node.foreach = self.template(&e.value, &format!("`foreach` of {what}")),
                _ => self.sink.error(e.value.pos, format!("`foreach` of {what} must be a list or a `${{{{ … }}}}` expression yielding one, got {}", e.value.kind())),
            }
        }
        if let Some(e) = f.get("foreach_parallel") {
            if let Some(i) = self.count(&e.value, &format!("`foreach_parallel` of {what}"), 1) {
                node.foreach_parallel = i as usize;
            }
            if !f.contains_key("foreach") {
                self.sink.warning(e.key_pos, format!("`foreach_parallel` of {what} has no effect without `foreach`"));
            }
        }
        if let Some(e) = f.get("retries") {
            if let Some(i) = self.count(&e.value, &format!("`retries` of {what}"), 0) {
                node.retries = i as u32;
            }
        }
        if let Some(e) = f.get("retry_delay") {
            if let Some(d) = self.duration(&e.value, &format!("`retry_delay` of {what}")) {
                node.retry_delay = d;
            }
        }
        if let Some(e) = f.get("timeout") {
            node.timeout = self.timeout(&e.value, &format!("`timeout` of {what}"));
        }
        if let Some(e) = f.get("kernel") {
            node.kernel = self.string(&e.value, &format!("`kernel` of {what}")).or(node.kernel);
        }
        if let Some(e) = f.get("labels") {
            node.labels = self.strings(&e.value, &format!("`labels` of {what}")).into_iter().map(|(s, _)| s).collect();
        }
        (node, ns)
    }

    /// `when:` is a bare CEL boolean; `${{ … }}` around it and YAML booleans are accepted too.
    fn when(&mut self, n: &YNode, what: &str) -> Option<Expr> {
        let source = match &n.value {
            Yaml::Str(s) => {
                let t = s.trim();
                match t.strip_prefix("${{").and_then(|r| r.strip_suffix("}}")) {
                    Some(inner) if !inner.contains("${{") => inner.to_string(),
                    _ => t.to_string(),
                }
            }
            Yaml::Bool(b) => b.to_string(),
            _ => {
                self.sink.error(n.pos, format!("`when` of {what} must be a CEL expression, got {}", n.kind()));
                return None;
            }
        };
        Expr::parse(&source).map_err(|e| self.sink.error(n.pos, format!("bad expression in `when` of {what}: {e}"))).ok()
    }

    /// `triggers:`: a list of `workflow:`, `signal:` and `files:` entries.
    fn triggers(&mut self, n: &YNode, self_id: &str, spans: &mut Spans) -> Vec<Trigger> {
        let items = match &n.value {
            Yaml::Seq(items) => items,
            Yaml::Null => return Vec::new(),
            _ => {
                self.sink.error(n.pos, format!("`triggers` must be a list of `workflow:`, `signal:` or `files:` entries, got {}", n.kind()));
                return Vec::new();
            }
        };
        spans.trigger_entries = items.len();
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let mut ts = TriggerSpans { number: i + 1, pos: item.pos, ..TriggerSpans::default() };
            if let Some(t) = self.trigger_entry(item, self_id, &mut ts) {
                out.push(t);
                spans.triggers.push(ts);
            }
        }
        out
    }

    fn trigger_entry(&mut self, n: &YNode, self_id: &str, ts: &mut TriggerSpans) -> Option<Trigger> {
        let what = format!("trigger {}", ts.number);
        let Yaml::Map(entries) = &n.value else {
            self.sink.error(n.pos, format!("{what} must be a map with {}, got {}", any_of(TRIGGER_KINDS), n.kind()));
            return None;
        };
        let mut f: IndexMap<&str, &Entry> = IndexMap::new();
        for e in entries {
            let key = e.key.as_str();
            if TRIGGER_KEYS.contains(&key) {
                f.insert(key, e);
            } else if FILES_KEYS.contains(&key) {
                self.sink.error(e.key_pos, format!("`{key}` of {what} goes inside `files:` (`files: {{ path: …, {key}: … }}`)"));
            } else {
                let hint = match suggest(key, TRIGGER_KEYS.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("expected one of {}", one_of(TRIGGER_KEYS)),
                };
                self.sink.error(e.key_pos, format!("unknown key `{key}` in {what} ({hint})"));
            }
        }
        let params = match f.get("params") {
            Some(e) => self.trigger_params(&e.value, &what, ts),
            None => IndexMap::new(),
        };
        let kinds: Vec<&str> = TRIGGER_KINDS.iter().copied().filter(|k| f.contains_key(k)).collect();
        let kind = match kinds.as_slice() {
            [one] => *one,
            [] => {
                self.sink.error(n.pos, format!("{what} needs one of {}", any_of(TRIGGER_KINDS)));
                return None;
            }
            many => {
                self.sink.error(n.pos, format!("{what} has {}; give exactly one", all_of(many)));
                return None;
            }
        };
        for (key, owner) in TRIGGER_KIND_KEYS {
            if let (Some(e), true) = (f.get(key), *owner != kind) {
                self.sink.error(e.key_pos, format!("`{key}` of {what} belongs to `{owner}` triggers; this is a `{kind}` trigger"));
            }
        }
        let e = f[kind];
        let on = match kind {
            "workflow" => {
                let workflow = self.string(&e.value, &format!("`workflow` of {what}"))?;
                if !is_workflow_id(&workflow) {
                    self.sink.error(e.value.pos, format!("`workflow` of {what}: `{workflow}` is not a workflow id ([a-z0-9_-]+)"));
                } else if workflow == self_id {
                    self.sink.error(e.value.pos, format!("{what}: a workflow cannot trigger itself (`{workflow}` is this workflow)"));
                }
                let status = f.get("status").and_then(|s| self.upstream_status(&s.value, &what)).unwrap_or_default();
                let when = f.get("when").and_then(|w| {
                    ts.when = Some(w.value.pos);
                    self.when(&w.value, &what)
                });
                TriggerOn::Workflow { workflow, status, when }
            }
            "signal" => {
                let name = self.signal_name(&e.value, &format!("`signal` of {what}"))?;
                let matches = match f.get("match") {
                    Some(m) => self.signal_values(&m.value, &what),
                    None => IndexMap::new(),
                };
                TriggerOn::Signal { name, matches }
            }
            _ => TriggerOn::Files(self.files_trigger(&e.value, &what)?),
        };
        Some(Trigger { on, params, pos: (n.pos.line, n.pos.column) })
    }

    /// A trigger's `params:`: run params (identifiers) to templates over `trigger`.
    fn trigger_params(&mut self, n: &YNode, what: &str, ts: &mut TriggerSpans) -> IndexMap<String, Template> {
        let mut out = IndexMap::new();
        match &n.value {
            Yaml::Map(entries) => {
                for p in entries {
                    if !is_identifier(&p.key) {
                        self.sink.error(p.key_pos, format!("param name `{}` of {what} must be an identifier ([A-Za-z_][A-Za-z0-9_]*)", p.key));
                    }
                    ts.params.insert(p.key.clone(), (p.key_pos, p.value.pos));
                    let t = self.template(&p.value, &format!("param `{}` of {what}", p.key));
                    out.insert(p.key.clone(), t.unwrap_or_else(|| Template::literal(Value::Null)));
                }
            }
            Yaml::Null => {}
            _ => self.sink.error(n.pos, format!("`params` of {what} must be a map of workflow param to value, got {}", n.kind())),
        }
        out
    }

    /// `status: succeeded | failed | finished` of a `workflow:` trigger or wait.
    fn upstream_status(&mut self, n: &YNode, what: &str) -> Option<UpstreamStatus> {
        let s = self.string(n, &format!("`status` of {what}"))?;
        match s.as_str() {
            "succeeded" => Some(UpstreamStatus::Succeeded),
            "failed" => Some(UpstreamStatus::Failed),
            "finished" => Some(UpstreamStatus::Finished),
            other => {
                let hint = suggest(other, STATUSES.iter().copied()).map(|s| format!("did you mean `{s}`? ")).unwrap_or_default();
                self.sink.error(n.pos, format!("unknown status `{other}` of {what} ({hint}expected one of {})", one_of(STATUSES)));
                None
            }
        }
    }

    fn signal_name(&mut self, n: &YNode, what: &str) -> Option<String> {
        let name = self.string(n, what)?;
        if !is_signal_name(&name) {
            self.sink.error(n.pos, format!("{what}: signal name `{name}` must match [A-Za-z0-9_.-]+ and be 1 to {MAX_SIGNAL_NAME} characters"));
        }
        Some(name)
    }

    /// A signal trigger's `match:`: param name to a scalar, compared as JSON.
    fn signal_values(&mut self, n: &YNode, what: &str) -> IndexMap<String, Value> {
        let mut out = IndexMap::new();
        match &n.value {
            Yaml::Map(entries) => {
                for e in entries {
                    if matches!(e.value.value, Yaml::Seq(_) | Yaml::Map(_)) {
                        self.sink.error(e.value.pos, format!("`match.{}` of {what} must be a string, number, bool or null, got {}", e.key, e.value.kind()));
                    } else {
                        out.insert(e.key.clone(), e.value.to_json());
                    }
                }
            }
            Yaml::Null => {}
            _ => self.sink.error(n.pos, format!("`match` of {what} must be a map of signal param to value, got {}", n.kind())),
        }
        out
    }

    /// `poll:`: a duration of at least [`MIN_POLL`].
    fn poll(&mut self, n: &YNode, what: &str) -> Option<Duration> {
        let d = self.duration(n, what)?;
        if d < MIN_POLL {
            self.sink.error(n.pos, format!("{what} must be at least 1s, got `{}`", as_written(n)));
            return None;
        }
        Some(d)
    }

    /// `files: PATH` or `files: { path, poll, catchup }` of a trigger.
    fn files_trigger(&mut self, n: &YNode, what: &str) -> Option<FilesTrigger> {
        let mut t = FilesTrigger { path: String::new(), poll: Duration::from_secs(60), catchup: false };
        let path_pos = match &n.value {
            Yaml::Str(s) => {
                t.path = s.clone();
                n.pos
            }
            Yaml::Map(_) => {
                let f = self.fields(n, &format!("`files` of {what}"), FILES_KEYS, &["path"])?;
                if let Some(e) = f.get("poll") {
                    t.poll = self.poll(&e.value, &format!("`files.poll` of {what}")).unwrap_or(t.poll);
                }
                if let Some(e) = f.get("catchup") {
                    t.catchup = self.bool(&e.value, &format!("`files.catchup` of {what}")).unwrap_or(false);
                }
                let e = f.get("path")?;
                t.path = self.string(&e.value, &format!("`files.path` of {what}"))?;
                e.value.pos
            }
            _ => {
                self.sink.error(n.pos, format!("`files` of {what} must be a path or a map `{{ path, poll, catchup }}`, got {}", n.kind()));
                return None;
            }
        };
        if t.path.trim().is_empty() {
            self.sink.error(path_pos, format!("the `files` path of {what} is empty"));
        }
        let dates = t.path.matches("{date}").count();
        if dates > 1 {
            self.sink.error(path_pos, format!("the `files` path of {what} has `{{date}}` {dates} times; it may appear at most once"));
        }
        Some(t)
    }

    /// A node's `wait:` block.
    fn wait(&mut self, n: &YNode, what: &str, ns: &mut NodeSpans) -> Option<WaitNode> {
        let w = format!("`wait` of {what}");
        let f = self.fields(n, &w, WAIT_KEYS, &[])?;
        for (key, needs) in [("match", "signal"), ("status", "workflow")] {
            if let (Some(e), false) = (f.get(key), f.contains_key(needs)) {
                self.sink.error(e.key_pos, format!("`{key}` in {w} applies only to a `{needs}` wait"));
            }
        }
        let mut wait = WaitNode {
            on: WaitOn::Workflow { workflow: String::new(), status: UpstreamStatus::default() },
            timeout: Duration::from_secs(24 * 3600),
            poll: Duration::from_secs(30),
            on_timeout: OnTimeout::Fail,
        };
        if let Some(e) = f.get("timeout") {
            if let Some(d) = self.duration(&e.value, &format!("`wait.timeout` of {what}")) {
                if d.is_zero() {
                    self.sink.error(e.value.pos, format!("`wait.timeout` of {what} must be more than zero"));
                } else {
                    wait.timeout = d;
                }
            }
        }
        if let Some(e) = f.get("poll") {
            wait.poll = self.poll(&e.value, &format!("`wait.poll` of {what}")).unwrap_or(wait.poll);
        }
        if let Some(e) = f.get("on_timeout") {
            match self.string(&e.value, &format!("`wait.on_timeout` of {what}")).as_deref() {
                Some("fail") => wait.on_timeout = OnTimeout::Fail,
                Some("skip") => wait.on_timeout = OnTimeout::Skip,
                Some(other) => {
                    let hint = suggest(other, ON_TIMEOUT.iter().copied()).map(|s| format!("did you mean `{s}`? ")).unwrap_or_default();
                    self.sink.error(e.value.pos, format!("unknown on_timeout `{other}` of {what} ({hint}expected one of {})", one_of(ON_TIMEOUT)));
                }
                None => {}
            }
        }
        let kinds: Vec<(&str, &Entry)> = WAIT_KINDS.iter().filter_map(|k| f.get(k).map(|e| (*k, *e))).collect();
        wait.on = match kinds.as_slice() {
            [] => {
                self.sink.error(n.pos, format!("{w} needs one of {}", any_of(WAIT_KINDS)));
                return None;
            }
            [("files", e)] => {
                ns.wait_files = Some(e.value.pos);
                let path = self.string(&e.value, &format!("`wait.files` of {what}"))?;
                if path.trim().is_empty() {
                    self.sink.error(e.value.pos, format!("`wait.files` of {what} is empty"));
                }
                WaitOn::Files { path: self.template(&e.value, &format!("`wait.files` of {what}"))? }
            }
            [("signal", e)] => {
                let name = self.signal_name(&e.value, &format!("`wait.signal` of {what}"))?;
                let mut matches = IndexMap::new();
                match f.get("match").map(|m| &m.value) {
                    Some(YNode { value: Yaml::Map(entries), .. }) => {
                        for m in entries {
                            ns.wait_match.insert(m.key.clone(), m.value.pos);
                            let t = self.template(&m.value, &format!("`wait.match.{}` of {what}", m.key));
                            matches.insert(m.key.clone(), t.unwrap_or_else(|| Template::literal(Value::Null)));
                        }
                    }
                    Some(YNode { value: Yaml::Null, .. }) | None => {}
                    Some(m) => self.sink.error(m.pos, format!("`wait.match` of {what} must be a map of signal param to value, got {}", m.kind())),
                }
                WaitOn::Signal { name, matches }
            }
            [(_, e)] => {
                let workflow = self.string(&e.value, &format!("`wait.workflow` of {what}"))?;
                if !is_workflow_id(&workflow) {
                    self.sink.error(e.value.pos, format!("`wait.workflow` of {what}: `{workflow}` is not a workflow id ([a-z0-9_-]+)"));
                }
                let status = f.get("status").and_then(|s| self.upstream_status(&s.value, &w)).unwrap_or_default();
                WaitOn::Workflow { workflow, status }
            }
            [_, rest @ ..] => {
                let names: Vec<&str> = kinds.iter().map(|(k, _)| *k).collect();
                self.sink.error(rest[0].1.key_pos, format!("{w} has {}; give exactly one", all_of(&names)));
                return None;
            }
        };
        Some(wait)
    }

    fn sql(&mut self, n: &YNode, what: &str, ns: &mut NodeSpans) -> Option<SqlNode> {
        let f = self.fields(n, &format!("`sql` of {what}"), SQL_KEYS, &["query"])?;
        let engine = match f.get("engine") {
            Some(e) => {
                ns.engine = Some(e.value.pos);
                let name = self.string(&e.value, &format!("`sql.engine` of {what}"))?;
                SqlEngine::parse(&name).unwrap_or_else(|| {
                    let hint = suggest(&name, ENGINES.iter().copied()).map(|s| format!("did you mean `{s}`? ")).unwrap_or_default();
                    self.sink.error(e.value.pos, format!("unknown engine `{name}` ({hint}expected one of {})", one_of(ENGINES)));
                    // The workflow is refused; the default keeps checking the rest.
                    SqlEngine::default()
                })
            }
            None => SqlEngine::default(),
        };
        let query = f.get("query").and_then(|e| {
            ns.query = Some(e.value.pos);
            self.string(&e.value, &format!("`sql.query` of {what}"))
        });
        let save_to = f.get("save_to").and_then(|e| {
            ns.save_to = Some(e.value.pos);
            self.string(&e.value, &format!("`sql.save_to` of {what}"))
        });
        Some(SqlNode { engine, query: query?, save_to })
    }
}

/// `YYYY-MM-DD`, and a real calendar date.
pub(crate) fn is_date(s: &str) -> bool {
    s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-' && s.parse::<jiff::civil::Date>().is_ok()
}

/// Build the workflow from the YAML root, reporting problems to `sink`.
pub(crate) fn build(root: &YNode, path: &Path, sink: &mut Sink) -> (Workflow, Spans) {
    Parser { sink }.workflow(root, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Workflow, Vec<String>) {
        let (root, soft) = crate::yaml::parse(text).unwrap();
        assert!(soft.is_empty());
        let mut sink = Sink::new(Path::new("dir/wf.yaml"));
        let (wf, _) = build(&root.unwrap(), Path::new("dir/wf.yaml"), &mut sink);
        (wf, sink.sorted().into_iter().map(|d| format!("{}:{}: {}", d.line, d.column, d.message)).collect())
    }

    /// The cron expression was parsed twice (here and again by the scheduler) with a
    /// hand-copied message; now once, as it is read, and the schedule keeps it.
    #[test]
    fn a_schedule_is_parsed_once_and_each_problem_is_reported_where_it_is() {
        let (wf, errs) = parse("workflow: w\nschedule: { cron: ' 0 3 * * 1-5 ', timezone: Europe/Paris }\nnodes:\n  a: { notebook: a.ipynb }\n");
        assert!(errs.is_empty(), "{errs:?}");
        let s = wf.schedule.expect("a schedule");
        assert_eq!(s.cron.as_str(), "0 3 * * 1-5");
        assert_eq!((s.timezone.as_str(), s.catchup), ("Europe/Paris", false));
        let (_, errs) = parse("workflow: w\nschedule: { cron: '0 3 * *', timezone: Mars/Olympus }\nnodes:\n  a: { notebook: a.ipynb }\n");
        let with_tz_db = !jiff::tz::db().is_definitively_empty();
        assert_eq!(errs.len(), if with_tz_db { 2 } else { 1 }, "{errs:?}");
        assert!(errs[0].starts_with("2:19: bad cron `0 3 * *`: "), "{errs:?}");
        assert!(errs[0].ends_with("(expected 5 fields: minute hour day-of-month month day-of-week)"), "{errs:?}");
        if with_tz_db {
            assert_eq!(errs[1], "2:40: unknown time zone `Mars/Olympus` (use an IANA name such as `America/Los_Angeles` or `UTC`)");
        }
        let (wf, errs) = parse("workflow: w\nschedule: '*/5 * * * *'\nnodes:\n  a: { notebook: a.ipynb }\n");
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(wf.schedule.unwrap().cron.to_string(), "*/5 * * * *", "the shorthand form");
    }

    #[test]
    fn run_limits_strategy_and_hooks() {
        let (wf, errs) = parse(
            "workflow: w\nmax_active_runs: 2\nrun_strategy: sequential\non_failure: { webhook: \"https://hooks.example/x\" }\non_success: { webhook: { url: \"http://h/y\", retries: 0, timeout: 2s } }\nnodes:\n  a: { notebook: a.ipynb }\n",
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(wf.max_active_runs, Some(2));
        assert_eq!(wf.run_strategy, RunStrategy::Sequential);
        let hook = wf.on_failure.unwrap().webhook.unwrap();
        assert_eq!((hook.url.as_str(), hook.retries, hook.timeout), ("https://hooks.example/x", 3, Duration::from_secs(10)));
        let hook = wf.on_success.unwrap().webhook.unwrap();
        assert_eq!((hook.retries, hook.timeout), (0, Duration::from_secs(2)));
        let (_, errs) = parse(
            "workflow: w\nmax_active_runs: 0\nrun_strategy: sequental\non_failure: { webhook: ftp://x, notebook: gone.ipynb }\non_success: {}\nnodes:\n  a: { notebook: a.ipynb }\n",
        );
        assert_eq!(
            errs,
            [
                "2:18: `max_active_runs` must be at least 1, got 0",
                "3:15: unknown run_strategy `sequental` (did you mean `sequential`? expected one of `parallel`, `sequential`)",
                "4:24: `on_failure`.webhook: \"ftp://x\" is not an http:// or https:// URL",
                "4:43: `on_failure`.notebook: `gone.ipynb` not found next to the workflow file",
                "5:13: `on_success` needs `webhook`, `notebook` or both",
            ]
        );
    }

    #[test]
    fn applies_defaults_and_overrides() {
        let (wf, errs) = parse(
            "workflow: w\ndefaults: { retries: 2, retry_delay: 30s, timeout: 30m, kernel: python3, trigger: all_done }\nnodes:\n  a: { notebook: a.ipynb }\n  b: { notebook: b.ipynb, retries: 0, timeout: null, needs: a, trigger: one_success, foreach: [1, 2], foreach_parallel: 2 }\n",
        );
        assert!(errs.is_empty(), "{errs:?}");
        let a = &wf.nodes["a"];
        assert_eq!((a.retries, a.retry_delay, a.timeout), (2, Duration::from_secs(30), Some(Duration::from_secs(1800))));
        assert_eq!(a.kernel.as_deref(), Some("python3"));
        assert_eq!(a.trigger, TriggerRule::AllDone);
        assert_eq!(a.foreach_parallel, 4);
        let b = &wf.nodes["b"];
        assert_eq!((b.retries, b.timeout, b.trigger, b.foreach_parallel), (0, None, TriggerRule::OneSuccess, 2));
        assert_eq!(b.needs, vec!["a"]);
        let NodeKind::Notebook { rel, path } = &b.kind else { panic!() };
        assert_eq!((rel.as_str(), path.as_path()), ("b.ipynb", Path::new("dir/b.ipynb")));
    }

    #[test]
    fn unknown_keys_at_every_level_with_suggestions() {
        let (_, errs) = parse("workflow: w\nshedule: x\nparams:\n  p: { type: int, defalt: 1 }\nnodes:\n  a:\n    notebook: a.ipynb\n    nedes: [b]\n    sql: { query: q, egine: duckdb }\n");
        assert_eq!(
            errs,
            [
                "2:1: unknown key `shedule` in the workflow file (did you mean `schedule`?)",
                "4:19: unknown key `defalt` in param `p` (did you mean `default`?)",
                "8:5: unknown key `nedes` in node `a` (did you mean `needs`?)",
                "9:5: node `a` has both `notebook` and `sql`; give exactly one",
                "9:22: unknown key `egine` in `sql` of node `a` (did you mean `engine`?)",
            ]
        );
    }

    #[test]
    fn sql_nodes_default_to_duckdb_and_normalize_presto() {
        let (wf, errs) = parse("workflow: w\nnodes:\n  a: { sql: { query: select 1 } }\n  b: { sql: { engine: presto, query: select 2, save_to: x.parquet } }\n");
        assert!(errs.is_empty(), "{errs:?}");
        let NodeKind::Sql(a) = &wf.nodes["a"].kind else { panic!() };
        assert_eq!(a.engine, "duckdb");
        let NodeKind::Sql(b) = &wf.nodes["b"].kind else { panic!() };
        assert_eq!((b.engine.as_str(), b.save_to.as_deref()), ("trino", Some("x.parquet")));
    }

    #[test]
    fn param_defaults_are_type_checked() {
        let (wf, errs) = parse(
            "workflow: w\nparams:\n  a: { type: int, default: x }\n  b: { type: date, default: 2024-02-30 }\n  c: { type: float, default: 1 }\n  d: { type: list, default: {k: v} }\n  e: { type: date, default: 2024-02-29 }\n  f: { type: strin }\nnodes: { n: { notebook: n.ipynb } }\n",
        );
        assert_eq!(
            errs,
            [
                "3:28: default of param `a` must be an int, got a string",
                "4:29: default of param `b` must be a date as YYYY-MM-DD, got `2024-02-30`",
                "6:29: default of param `d` must be a list, got a map",
                "8:14: unknown type `strin` for param `f` (expected one of `string`, `int`, `float`, `bool`, `date`, `list`, `map`)",
            ]
        );
        assert_eq!(wf.params["c"].ty, ParamType::Float);
        assert_eq!(wf.params["e"].default, Some(Value::from("2024-02-29")));
    }

    #[test]
    fn durations_triggers_outputs_and_ids() {
        let (_, errs) = parse(
            "workflow: Bad_Id\nnodes:\n  1st: { notebook: a.ipynb, retry_delay: -5s, timeout: 0, trigger: one_sucess, outputs: [ok, not-ok, ok], retries: -1 }\n",
        );
        assert_eq!(
            errs,
            [
                "1:11: workflow id `Bad_Id` must match [a-z0-9_-]+",
                "3:3: node id `1st` must start with a letter or `_` and contain only letters, digits, `_` and `-`",
                "3:42: `retry_delay` of node `1st`: `-5s` is negative; durations must be zero or more",
                "3:56: `timeout` of node `1st` must be more than zero (omit it, or use null, for no timeout)",
                "3:68: unknown trigger `one_sucess` (did you mean `one_success`? expected one of `all_success`, `all_done`, `one_success`, `none_failed`)",
                "3:94: output `not-ok` of node `1st` must be an identifier ([A-Za-z_][A-Za-z0-9_]*)",
                "3:102: output `ok` of node `1st` is listed twice",
                "3:116: `retries` of node `1st` must be at least 0, got -1",
            ]
        );
    }

    #[test]
    fn when_accepts_bare_cel_wrapped_cel_and_bools() {
        let (wf, errs) = parse("workflow: w\nnodes:\n  a: { notebook: a.ipynb, when: 'params.x > 1' }\n  b: { notebook: b.ipynb, when: '${{ params.x }}' }\n  c: { notebook: c.ipynb, when: false }\n  d: { notebook: d.ipynb, when: 'params.x >' }\n");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with("6:33: bad expression in `when` of node `d`"), "{errs:?}");
        assert_eq!(wf.nodes["b"].when.as_ref().unwrap().source, "params.x");
        assert_eq!(wf.nodes["c"].when.as_ref().unwrap().source, "false");
    }

    #[test]
    fn triggers_and_wait_nodes_parse_with_their_defaults() {
        let (wf, errs) = parse(concat!(
            "workflow: reports\n",
            "params: { table: { type: string, default: t } }\n",
            "triggers:\n",
            "  - workflow: ingest\n",
            "    when: trigger.outputs.load.row_count > 0\n",
            "    params: { table: \"${{ trigger.outputs.load.table }}\" }\n",
            "  - { workflow: audit, status: finished }\n",
            "  - signal: partner.feed-ready\n",
            "    match: { source: acme, n: 3, ok: true, none: null }\n",
            "  - files: /data/landing/{date}/*.csv\n",
            "  - files: { path: \"s3://bucket/x/*/_SUCCESS\", poll: 5m, catchup: true }\n",
            "defaults: { retries: 2, timeout: 1h, labels: [gpu], kernel: ir, trigger: all_done }\n",
            "nodes:\n",
            "  landed:\n",
            "    wait: { files: \"/data/in/${{ run.date }}/done\" }\n",
            "  approved:\n",
            "    wait: { signal: approve, match: { day: \"${{ run.date }}\" }, timeout: 2h, poll: 10s, on_timeout: skip }\n",
            "    needs: landed\n",
            "    when: \"true\"\n",
            "    trigger: one_success\n",
            "  upstream: { wait: { workflow: ingest, status: failed } }\n",
            "  report: { sql: { query: select 1 }, needs: [approved, upstream] }\n",
        ));
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(wf.triggers.len(), 5);

        let t = &wf.triggers[0];
        assert_eq!(t.pos, (4, 5));
        let TriggerOn::Workflow { workflow, status, when } = &t.on else { panic!("{:?}", t.on) };
        assert_eq!((workflow.as_str(), *status), ("ingest", UpstreamStatus::Succeeded));
        assert_eq!(when.as_ref().unwrap().source, "trigger.outputs.load.row_count > 0");
        assert_eq!(t.params["table"].expressions(), ["trigger.outputs.load.table"]);

        let t = &wf.triggers[1];
        assert_eq!(t.pos, (7, 5));
        let TriggerOn::Workflow { workflow, status, when } = &t.on else { panic!("{:?}", t.on) };
        assert_eq!((workflow.as_str(), *status, when.is_none()), ("audit", UpstreamStatus::Finished, true));
        assert!(t.params.is_empty());

        let TriggerOn::Signal { name, matches } = &wf.triggers[2].on else { panic!("{:?}", wf.triggers[2].on) };
        assert_eq!(name, "partner.feed-ready");
        let matches: Vec<(&str, &Value)> = matches.iter().map(|(k, v)| (k.as_str(), v)).collect();
        assert_eq!(matches, [("source", &Value::from("acme")), ("n", &Value::from(3)), ("ok", &Value::Bool(true)), ("none", &Value::Null)]);

        let TriggerOn::Files(f) = &wf.triggers[3].on else { panic!("{:?}", wf.triggers[3].on) };
        assert_eq!(f, &FilesTrigger { path: "/data/landing/{date}/*.csv".into(), poll: Duration::from_secs(60), catchup: false });
        let TriggerOn::Files(f) = &wf.triggers[4].on else { panic!("{:?}", wf.triggers[4].on) };
        assert_eq!(f, &FilesTrigger { path: "s3://bucket/x/*/_SUCCESS".into(), poll: Duration::from_secs(300), catchup: true });

        let landed = &wf.nodes["landed"];
        let NodeKind::Wait(w) = &landed.kind else { panic!("{:?}", landed.kind) };
        let WaitOn::Files { path } = &w.on else { panic!("{:?}", w.on) };
        assert_eq!(path.raw, Value::from("/data/in/${{ run.date }}/done"));
        assert_eq!(path.expressions(), ["run.date"]);
        assert_eq!((w.timeout, w.poll, w.on_timeout), (Duration::from_secs(86_400), Duration::from_secs(30), OnTimeout::Fail));
        // `defaults:` do not reach a wait node, except the trigger rule.
        assert_eq!((landed.retries, landed.timeout, landed.kernel.as_deref()), (0, None, None));
        assert!(landed.labels.is_empty());
        assert_eq!(landed.trigger, TriggerRule::AllDone);

        let approved = &wf.nodes["approved"];
        let NodeKind::Wait(w) = &approved.kind else { panic!("{:?}", approved.kind) };
        let WaitOn::Signal { name, matches } = &w.on else { panic!("{:?}", w.on) };
        assert_eq!(name, "approve");
        assert_eq!(matches["day"].expressions(), ["run.date"]);
        assert_eq!((w.timeout, w.poll, w.on_timeout), (Duration::from_secs(7200), Duration::from_secs(10), OnTimeout::Skip));
        assert_eq!((approved.needs.as_slice(), approved.trigger), (&["landed".to_string()][..], TriggerRule::OneSuccess));
        assert_eq!(approved.when.as_ref().unwrap().source, "true");

        let NodeKind::Wait(w) = &wf.nodes["upstream"].kind else { panic!() };
        let WaitOn::Workflow { workflow, status } = &w.on else { panic!("{:?}", w.on) };
        assert_eq!((workflow.as_str(), *status), ("ingest", UpstreamStatus::Failed));
        assert_eq!(wait_label(&w.on), "workflow ingest failed");

        let report = &wf.nodes["report"];
        assert_eq!((report.retries, report.timeout, report.labels.as_slice()), (2, Some(Duration::from_secs(3600)), &["gpu".to_string()][..]));
    }

    #[test]
    fn trigger_entries_report_each_problem_where_it_is() {
        let long = "s".repeat(129);
        let (wf, errs) = parse(&concat!(
            "workflow: reports\n",
            "triggers:\n",
            "  - workflow: reports\n",
            "    status: suceeded\n",
            "    match: { a: 1 }\n",
            "  - signal: bad name\n",
            "    status: failed\n",
            "    when: 'true'\n",
            "    match: { a: [1], b: x }\n",
            "  - { files: { path: '/x/{date}/{date}', poll: 500ms, catchup: maybe } }\n",
            "  - { workflow: a, signal: b }\n",
            "  - { params: { table: x } }\n",
            "  - { files: '', poll: 5m, statuz: x }\n",
            "  - { workflow: Bad, params: { 1x: y }, when: 'trigger.status ==' }\n",
            "  - signal: LONG\n",
            "  - { files: [a] }\n",
            "  - { workflow: a, signal: b, files: c }\n",
            "nodes:\n",
            "  a: { sql: { query: q } }\n",
        )
        .replace("LONG", &long));
        let expected = [
            "3:15: trigger 1: a workflow cannot trigger itself (`reports` is this workflow)",
            "4:13: unknown status `suceeded` of trigger 1 (did you mean `succeeded`? expected one of `succeeded`, `failed`, `finished`)",
            "5:5: `match` of trigger 1 belongs to `signal` triggers; this is a `workflow` trigger",
            "6:13: `signal` of trigger 2: signal name `bad name` must match [A-Za-z0-9_.-]+ and be 1 to 128 characters",
            "7:5: `status` of trigger 2 belongs to `workflow` triggers; this is a `signal` trigger",
            "8:5: `when` of trigger 2 belongs to `workflow` triggers; this is a `signal` trigger",
            "9:17: `match.a` of trigger 2 must be a string, number, bool or null, got a list",
            "10:22: the `files` path of trigger 3 has `{date}` 2 times; it may appear at most once",
            "10:48: `files.poll` of trigger 3 must be at least 1s, got `500ms`",
            "10:64: `files.catchup` of trigger 3 must be true or false, got a string",
            "11:5: trigger 4 has both `workflow` and `signal`; give exactly one",
            "12:5: trigger 5 needs one of `workflow`, `signal` or `files`",
            "13:14: the `files` path of trigger 6 is empty",
            "13:18: `poll` of trigger 6 goes inside `files:` (`files: { path: …, poll: … }`)",
            "13:28: unknown key `statuz` in trigger 6 (did you mean `status`?)",
            "14:17: `workflow` of trigger 7: `Bad` is not a workflow id ([a-z0-9_-]+)",
            "14:32: param name `1x` of trigger 7 must be an identifier ([A-Za-z_][A-Za-z0-9_]*)",
            "14:47: bad expression in `when` of trigger 7: in `trigger.status ==`: syntax error",
            &format!("15:13: `signal` of trigger 8: signal name `{long}` must match [A-Za-z0-9_.-]+ and be 1 to 128 characters"),
            "16:14: `files` of trigger 9 must be a path or a map `{ path, poll, catchup }`, got a list",
            "17:5: trigger 10 has `workflow`, `signal` and `files`; give exactly one",
        ];
        assert_eq!(errs.len(), expected.len(), "{errs:#?}");
        for (e, want) in errs.iter().zip(expected) {
            assert!(e.starts_with(want), "{e}\n  does not start with\n{want}");
        }
        // An entry with a kind still parses (the workflow is refused all the same);
        // one with no kind, several, or an unreadable one does not.
        let kinds: Vec<&str> = wf
            .triggers
            .iter()
            .map(|t| match &t.on {
                TriggerOn::Workflow { .. } => "workflow",
                TriggerOn::Signal { .. } => "signal",
                TriggerOn::Files(_) => "files",
            })
            .collect();
        assert_eq!(kinds, ["workflow", "signal", "files", "files", "workflow", "signal"]);

        let (_, errs) = parse("workflow: w\ntriggers: { signal: x }\nnodes:\n  a: { sql: { query: q } }\n");
        assert_eq!(errs, ["2:11: `triggers` must be a list of `workflow:`, `signal:` or `files:` entries, got a map"]);
        let (wf, errs) = parse("workflow: w\ntriggers:\nnodes:\n  a: { sql: { query: q } }\n");
        assert!(errs.is_empty() && wf.triggers.is_empty(), "{errs:?}");
    }

    #[test]
    fn wait_nodes_report_each_problem_where_it_is() {
        let (wf, errs) = parse(concat!(
            "workflow: w\n",
            "defaults: { retries: 2, retry_delay: 1m, timeout: 1h, kernel: ir, labels: [gpu], foreach_parallel: 2 }\n",
            "nodes:\n",
            "  w1:\n",
            "    wait: { files: x, match: { a: 1 }, status: failed, poll: 0.5, timeout: 0, on_timeout: skp }\n",
            "    params: { a: 1 }\n",
            "    outputs: [x]\n",
            "    foreach: [1]\n",
            "    foreach_parallel: 2\n",
            "    kernel: ir\n",
            "    labels: [a]\n",
            "    retries: 3\n",
            "    retry_delay: 1s\n",
            "    timeout: 1h\n",
            "    needs: w2\n",
            "    when: 'true'\n",
            "    trigger: all_done\n",
            "  w2: { wait: { signal: s, workflow: x, status: fine } }\n",
            "  w3: { wait: { poll: 1m, sginal: s } }\n",
            "  w4: { notebook: a.ipynb, wait: { files: '' } }\n",
            "  w5: { wait: { workflow: Up, status: faild } }\n",
            "  w6: { wait: { signal: 'a b', match: [x] } }\n",
            "  w7: { wait: { files: '${{ run.date' } }\n",
            "  w8: { }\n",
            "  w9: { wait: files }\n",
        ));
        let expected = [
            "5:23: `match` in `wait` of node `w1` applies only to a `signal` wait",
            "5:40: `status` in `wait` of node `w1` applies only to a `workflow` wait",
            "5:62: `wait.poll` of node `w1` must be at least 1s, got `0.5`",
            "5:76: `wait.timeout` of node `w1` must be more than zero",
            "5:91: unknown on_timeout `skp` of node `w1` (did you mean `skip`? expected one of `fail`, `skip`)",
            "6:5: `params` of node `w1` has no effect on a wait node; it runs no notebook (templates go in `wait:` itself)",
            "7:5: `outputs` of node `w1` has no effect on a wait node; its outputs are fixed by what it waits for",
            "8:5: `foreach` of node `w1` has no effect on a wait node; it does not fan out",
            "9:5: `foreach_parallel` of node `w1` has no effect on a wait node; it does not fan out",
            "10:5: `kernel` of node `w1` has no effect on a wait node; it runs on the coordinator, not on a worker",
            "11:5: `labels` of node `w1` has no effect on a wait node; it runs on the coordinator, not on a worker",
            "12:5: `retries` of node `w1` has no effect on a wait node; it is not retried (see `wait.on_timeout`)",
            "13:5: `retry_delay` of node `w1` has no effect on a wait node; it is not retried (see `wait.on_timeout`)",
            "14:5: `timeout` of node `w1` has no effect on a wait node; use `wait.timeout`",
            "18:28: `wait` of node `w2` has both `signal` and `workflow`; give exactly one",
            "19:15: `wait` of node `w3` needs one of `files`, `signal` or `workflow`",
            "19:27: unknown key `sginal` in `wait` of node `w3` (did you mean `signal`?)",
            "20:28: node `w4` has both `notebook` and `wait`; give exactly one",
            "20:43: `wait.files` of node `w4` is empty",
            "21:27: `wait.workflow` of node `w5`: `Up` is not a workflow id ([a-z0-9_-]+)",
            "21:39: unknown status `faild` of `wait` of node `w5` (did you mean `failed`? expected one of `succeeded`, `failed`, `finished`)",
            "22:25: `wait.signal` of node `w6`: signal name `a b` must match [A-Za-z0-9_.-]+ and be 1 to 128 characters",
            "22:39: `wait.match` of node `w6` must be a map of signal param to value, got a list",
            "23:24: bad expression in `wait.files` of node `w7`: in `${{ run.date`: `${{` is not closed by `}}`",
            "24:7: node `w8` needs `notebook`, `sql` or `wait`",
            "25:15: `wait` of node `w9` must be a map, got a string",
        ];
        assert_eq!(errs.len(), expected.len(), "{errs:#?}");
        for (e, want) in errs.iter().zip(expected) {
            assert!(e.starts_with(want), "{e}\n  does not start with\n{want}");
        }
        // `needs`, `when` and `trigger` are a wait node's own; nothing else is kept.
        let w1 = &wf.nodes["w1"];
        assert_eq!((w1.needs.as_slice(), w1.trigger, w1.when.is_some()), (&["w2".to_string()][..], TriggerRule::AllDone, true));
        assert!(w1.params.is_empty() && w1.outputs.is_empty() && w1.foreach.is_none() && w1.labels.is_empty());
        assert_eq!((w1.retries, w1.retry_delay, w1.timeout, w1.kernel.as_deref()), (0, Duration::ZERO, None, None));
    }

    #[test]
    fn suggestions_only_for_close_words() {
        assert_eq!(suggest("nedes", NODE_KEYS.iter().copied()), Some("needs"));
        assert_eq!(suggest("zzzzzz", NODE_KEYS.iter().copied()), None);
    }
}
