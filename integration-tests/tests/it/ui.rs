//! The web UI in a real browser: headless Chromium driven over WebDriver
//! (chromedriver), against a real coordinator and worker. Each test asserts what a
//! person sees: element text and attributes, after the page's own script ran.
//!
//! Chromium and chromedriver are Debian's `chromium` and `chromium-driver`
//! (`scripts/setup.sh --test` installs them). Missing, they fail the tests with
//! instructions; nothing is skipped. Screenshots of the main pages land in
//! `target/ui-screenshots/`.

use std::future::Future;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::cluster::{node, Server, Worker};
use crate::harness::{fixture, repo_root, tmp};

/// How long an element may take to appear before a test fails.
const WAIT: Duration = Duration::from_secs(20);

fn ui_fixture(name: &str) -> PathBuf {
    fixture("ui").join(name)
}

/// An executable: an explicit path if it exists, else the first on PATH.
fn executable(name: &str, usual: &str) -> Option<PathBuf> {
    if Path::new(usual).is_file() {
        return Some(PathBuf::from(usual));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("binding a free port").port()
}

/// Only one browser at a time: Chromium is heavy for a 2-core machine running
/// coordinators, workers and kernels beside it.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

/// Headless Chromium behind its own chromedriver, with a blocking API: each call
/// runs the WebDriver command to completion on a private single-thread runtime, so
/// tests mix it freely with the blocking harness.
pub struct Browser {
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    _dir: tempfile::TempDir,
    _one: MutexGuard<'static, ()>,
}

const HINT: &str = "the UI tests need Debian's chromium and chromium-driver: run `scripts/setup.sh --test` \
(or `apt-get install chromium chromium-driver`)";

/// Chromium and chromedriver, or a failure that says how to get them. Tests call
/// this first, so a machine without them fails at once rather than after a run.
fn browser_binaries() -> (PathBuf, PathBuf) {
    let chromium = executable("chromium", "/usr/bin/chromium").unwrap_or_else(|| panic!("no chromium found (looked at /usr/bin/chromium and PATH); {HINT}"));
    let chromedriver = executable("chromedriver", "/usr/bin/chromedriver").unwrap_or_else(|| panic!("no chromedriver found (looked at /usr/bin/chromedriver and PATH); {HINT}"));
    (chromium, chromedriver)
}

impl Browser {
    pub fn start() -> Browser {
        let (chromium, chromedriver) = browser_binaries();
        let one = ONE_BROWSER.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let dir = tmp();
        let log = dir.path().join("chromedriver.log");
        // chromedriver wants an explicit port: take a free one and hand it over. Another
        // process could grab it in between, so try a few.
        let mut started = None;
        for _ in 0..3 {
            let port = free_port();
            let mut child = Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&log).unwrap())
                .stderr(Stdio::from(std::fs::File::options().append(true).open(&log).unwrap()))
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}; {HINT}", chromedriver.display()));
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let until = Instant::now() + Duration::from_secs(20);
            let up = loop {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    break true;
                }
                if child.try_wait().ok().flatten().is_some() || Instant::now() > until {
                    break false;
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            if up {
                started = Some((child, port));
                break;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let (driver, port) = started.unwrap_or_else(|| panic!("chromedriver never listened; its log:\n{}", std::fs::read_to_string(&log).unwrap_or_default()));

        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        let profile = dir.path().join("profile");
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1400,1000", "--no-first-run", "--disable-extensions",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        });
        let Value::Object(caps) = caps else { unreachable!() };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = rt.block_on(async {
            let mut builder = ClientBuilder::new(connector);
            builder.capabilities(caps);
            let url = format!("http://127.0.0.1:{port}");
            tokio::time::timeout(Duration::from_secs(60), builder.connect(&url)).await
        });
        let client = match client {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => panic!("starting a Chromium session: {e}; chromedriver's log:\n{}", std::fs::read_to_string(&log).unwrap_or_default()),
            Err(_) => panic!("no Chromium session within 60 s; chromedriver's log:\n{}", std::fs::read_to_string(&log).unwrap_or_default()),
        };
        Browser { rt, client: Some(client), driver, _dir: dir, _one: one }
    }

    fn c(&self) -> &Client {
        self.client.as_ref().expect("browser session")
    }

    /// Run one WebDriver future to completion.
    pub fn run<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    pub fn goto(&self, url: &str) {
        self.run(self.c().goto(url)).unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    pub fn url(&self) -> String {
        self.run(self.c().current_url()).map(|u| u.to_string()).unwrap_or_default()
    }

    /// The current URL's path.
    pub fn path(&self) -> String {
        self.run(self.c().current_url()).map(|u| u.path().to_string()).unwrap_or_default()
    }

    /// The visible text of the whole page (best effort: empty mid-navigation).
    pub fn page_text(&self) -> String {
        self.run(async { self.c().find(Locator::Css("body")).await?.text().await }).unwrap_or_default()
    }

    /// Poll `probe` until it gives a value, or fail saying `what` and where the page is.
    pub fn wait_for<T>(&self, what: &str, within: Duration, mut probe: impl FnMut(&Browser) -> Option<T>) -> T {
        let until = Instant::now() + within;
        loop {
            if let Some(v) = probe(self) {
                return v;
            }
            if Instant::now() > until {
                let text = self.page_text();
                panic!("{what}: not within {within:?}; at {} the page reads:\n{}", self.url(), text.chars().take(3000).collect::<String>());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn try_find(&self, css: &str) -> Option<Element> {
        self.run(self.c().find(Locator::Css(css))).ok()
    }

    /// The first element matching `css`, waiting for it to appear.
    pub fn find(&self, css: &str) -> Element {
        self.wait_for(&format!("an element {css}"), WAIT, |b| b.try_find(css))
    }

    pub fn find_all(&self, css: &str) -> Vec<Element> {
        self.run(self.c().find_all(Locator::Css(css))).unwrap_or_default()
    }

    pub fn exists(&self, css: &str) -> bool {
        !self.find_all(css).is_empty()
    }

    /// The visible text of the first element matching `css`.
    pub fn text(&self, css: &str) -> String {
        self.wait_for(&format!("the text of {css}"), WAIT, |b| b.run(async { b.c().find(Locator::Css(css)).await?.text().await }).ok())
    }

    pub fn text_of(&self, el: &Element) -> String {
        self.run(el.text()).expect("element text")
    }

    pub fn attr(&self, css: &str, name: &str) -> Option<String> {
        let el = self.find(css);
        self.run(el.attr(name)).expect("element attribute")
    }

    pub fn attr_of(&self, el: &Element, name: &str) -> Option<String> {
        self.run(el.attr(name)).expect("element attribute")
    }

    /// The page's `value` of a form field (what is in the box, not the attribute).
    pub fn value(&self, css: &str) -> String {
        let el = self.find(css);
        self.run(el.prop("value")).expect("value").unwrap_or_default()
    }

    pub fn click(&self, css: &str) {
        let el = self.find(css);
        self.run(el.click()).unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css);
        self.run(async {
            el.clear().await?;
            el.send_keys(text).await
        })
        .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
    }

    /// A script's return value (`return …;`), run in the page.
    pub fn js(&self, script: &str) -> Value {
        self.run(self.c().execute(script, vec![])).unwrap_or_else(|e| panic!("running {script:?} in the page: {e}"))
    }

    /// The same, for polling: `None` while the page is between documents.
    pub fn try_js(&self, script: &str) -> Option<Value> {
        self.run(self.c().execute(script, vec![])).ok()
    }

    /// Wait until the browser is on `path` (after a click or a form post).
    pub fn wait_path(&self, path: &str) {
        self.wait_for(&format!("the browser at {path}"), WAIT, |b| (b.path() == path && b.try_js("return document.readyState")? == "complete").then_some(()));
    }

    /// Save a PNG of the viewport as `target/ui-screenshots/NAME.png`.
    pub fn screenshot(&self, name: &str) {
        let dir = repo_root().join("target/ui-screenshots");
        std::fs::create_dir_all(&dir).expect("creating target/ui-screenshots");
        let png = self.run(self.c().screenshot()).unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
        assert!(png.starts_with(b"\x89PNG"), "screenshot {name} is not a PNG");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("writing a screenshot");
    }

    /// Switch into an iframe element, and back out with [`Browser::leave_frame`].
    pub fn enter(&self, frame: Element) {
        self.run(frame.enter_frame()).expect("entering an iframe");
    }

    pub fn leave_frame(&self) {
        self.run(self.c().enter_parent_frame()).expect("leaving an iframe");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = self.rt.block_on(async { tokio::time::timeout(Duration::from_secs(20), c.close()).await });
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn class_of(b: &Browser, css: &str) -> String {
    b.attr(css, "class").unwrap_or_default()
}

/// A finished run with a skipped branch and a failed node, seen the way a person
/// gets there: the workflows list, the workflow, the run, the failing notebook.
#[test]
fn a_failed_run_shows_its_skipped_branch_outputs_error_and_failing_cell() {
    browser_binaries();
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "5"]);
    server.register_from(&ui_fixture("ui_demo.yaml"));
    let _w = Worker::start(&server, "wa", &["--slots", "2"]);
    let run = server.trigger("ui_demo", json!({"region": "north", "threshold": "3"}));
    let detail = server.wait_finished(&run, Duration::from_secs(120));
    assert_eq!(detail["run"]["status"], "failed", "{detail:#}");
    assert_eq!(node(&detail, "publish")["status"], "skipped", "{detail:#}");
    assert_eq!(node(&detail, "alert")["status"], "failed", "{detail:#}");

    let b = Browser::start();

    // The workflows list: the workflow, its description, its latest run.
    b.goto(&format!("{}/", server.url));
    assert_eq!(b.text("h1"), "Workflows");
    let row = b.text("tr[data-workflow='ui_demo']");
    assert!(row.contains("ui_demo") && row.contains("a check that says no") && row.contains("failed"), "workflow row: {row:?}");
    assert!(row.contains("manual"), "no schedule shown as manual: {row:?}");
    b.screenshot("workflows");

    // The workflow: its DAG, the recent-runs grid, the trigger form with the defaults.
    b.click("tr[data-workflow='ui_demo'] a[href='/workflows/ui_demo']");
    b.wait_path("/workflows/ui_demo");
    assert_eq!(b.text("main h1"), "ui_demo");
    for n in ["extract", "check", "publish", "alert"] {
        assert_eq!(b.text(&format!("svg.dag g[data-node='{n}'] text")), n, "the DAG names node {n}");
    }
    assert_eq!(b.find_all("svg.dag path.edge").len(), 3, "extract→check, check→publish, check→alert");
    let grid_row = b.text(&format!("table.grid tr[data-run='{run}']"));
    assert!(grid_row.contains(&run) && grid_row.contains("failed"), "recent runs row: {grid_row:?}");
    assert_eq!(b.value("form#trigger input[name='p.region']"), "north");
    assert_eq!(b.value("form#trigger input[name='p.threshold']"), "3");
    assert!(b.exists("form#trigger input[name='date']") && b.exists("form#backfill input[name='from']"), "trigger and backfill forms");
    let cell = b.attr(&format!("table.grid tr[data-run='{run}'] a.st-skipped"), "title").unwrap_or_default();
    assert_eq!(cell, "publish: skipped", "the grid cell of the skipped node");
    b.screenshot("workflow");

    // The run: statuses in the DAG and the table, outputs, the error.
    b.click(&format!("table.grid tr[data-run='{run}'] a[href='/runs/{run}']"));
    b.wait_path(&format!("/runs/{run}"));
    assert_eq!(b.text("#run-status"), "failed");
    assert_eq!(b.attr("body", "data-finished").as_deref(), Some("true"));
    for (n, status) in [("extract", "succeeded"), ("check", "succeeded"), ("publish", "skipped"), ("alert", "failed")] {
        let class = class_of(&b, &format!("svg.dag g[data-node='{n}']"));
        assert!(class.split_whitespace().any(|c| c == format!("status-{status}")), "DAG node {n}: class {class:?}, want status-{status}");
        assert!(b.exists(&format!("svg.dag g.node.status-{status}[data-node='{n}']")));
        assert_eq!(b.text(&format!("[data-status-of='{n}']")), status, "status badge of {n}");
    }
    let extract = b.text("tr[data-node-row='extract']");
    assert!(extract.contains("\"rows\": 2"), "extract's outputs in its row: {extract:?}");
    assert!(extract.contains("\"region\": \"north\""), "extract's injected params: {extract:?}");
    let check = b.text("tr[data-node-row='check']");
    assert!(check.contains("\"ok\": false"), "check's outputs in its row: {check:?}");
    let alert = b.text("tr[data-node-row='alert']");
    assert!(alert.contains("ValueError") && alert.contains("threshold 3 not met in north"), "alert's row shows the error: {alert:?}");
    let errorboxes = b.find_all(".errorbox");
    assert_eq!(errorboxes.len(), 1, "one failed node, one error box");
    let err = b.text_of(&errorboxes[0]);
    assert!(err.contains("alert") && err.contains("ValueError") && err.contains("threshold 3 not met in north"), "error box: {err:?}");
    let bars = b.find_all("svg.gantt rect.bar");
    assert_eq!(bars.len(), 3, "three attempts on the timeline (the skipped node never ran)");
    let timeline = b.text("svg.gantt");
    assert!(timeline.contains("extract #1") && timeline.contains("alert #1"), "timeline labels: {timeline:?}");
    assert!(b.text("#rerun").contains("Rerun"), "a failed run offers a rerun");
    assert!(!b.exists("#cancel"), "a finished run has nothing to cancel");
    b.screenshot("run");

    // The failed node's notebook, from the error box.
    b.click(".errorbox a.to-notebook");
    b.wait_path(&format!("/runs/{run}/nodes/alert/attempts/1"));
    let attempt_error = b.text("#attempt-error");
    assert!(attempt_error.contains("ValueError: threshold 3 not met in north"), "attempt error: {attempt_error:?}");
    let href = b.attr("#attempt-error a.to-error", "href").unwrap_or_default();
    let anchor = href.rsplit_once('#').map(|(_, a)| a.to_string()).unwrap_or_else(|| panic!("a.to-error href {href:?} has no #fragment"));
    assert!(anchor.starts_with("cell-"), "a.to-error points at {anchor:?}");
    let failing = b.text(&format!(".notebook #{anchor}"));
    assert!(failing.contains("ValueError") && failing.contains("threshold 3 not met in north"), "the cell a.to-error points at shows the traceback: {failing:?}");
    assert!(failing.contains("alert(region, threshold)"), "the failing cell's source: {failing:?}");
    b.screenshot("attempt");
    b.click("#attempt-error a.to-error");
    b.wait_for("the URL's fragment after following a.to-error", WAIT, |b| (b.try_js("return location.hash")? == format!("#{anchor}")).then_some(()));
    let command = b.text("#local-command");
    assert!(command.starts_with("deckle execute alert.ipynb alert.1.ipynb"), "local command: {command:?}");
    assert!(command.contains("-p region north") && command.contains("-p threshold 3"), "local command carries the params: {command:?}");
    let notebook = b.text(".notebook");
    assert!(notebook.contains("alerting for north"), "the notebook's output before the failure: {notebook:?}");
    let download = b.attr("a#download", "href").unwrap_or_default();
    assert_eq!(download, format!("/api/v1/runs/{run}/nodes/alert/attempts/1/notebook"));
    let (status, nb) = server.client().get(&download);
    assert_eq!(status, 200, "downloading the notebook: {nb}");
    assert_eq!(nb["nbformat"], 4, "the download is the notebook");
    b.screenshot("attempt-failing-cell");

    b.goto(&format!("{}/backfills", server.url));
    assert_eq!(b.text("main h1"), "Backfills");
    assert!(b.text("main table").contains("No backfills yet."));
    b.screenshot("backfills");
}

/// A run triggered from the workflow page's form; the run page follows it live.
#[test]
fn a_run_triggered_from_the_form_is_followed_live_until_it_succeeds() {
    browser_binaries();
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "5"]);
    server.register_from(&ui_fixture("quick.yaml"));
    let _w = Worker::start(&server, "wa", &["--slots", "2"]);
    let b = Browser::start();

    b.goto(&format!("{}/workflows/quick", server.url));
    b.type_into("form#trigger input[name='p.secs']", "3");
    b.type_into("form#trigger input[name='p.label']", "from the browser");
    // A date input's typing format follows the locale; set its value as a date picker would.
    b.js("document.querySelector(\"form#trigger input[name='date']\").value = '2024-05-01'; return null;");
    b.click("form#trigger button[type='submit']");
    let run = b.wait_for("the new run's page", WAIT, |b| {
        let path = b.path();
        let id = path.strip_prefix("/runs/").filter(|id| !id.is_empty() && !id.contains('/'))?.to_string();
        b.try_find("#run-status").map(|_| id)
    });
    let first = b.text("#run-status");
    assert!(["queued", "running"].contains(&first.as_str()), "a just-triggered run (its node sleeps 3 s) shows as queued or running, not {first:?}");
    assert_eq!(b.attr("body", "data-finished").as_deref(), Some("false"), "the page follows an unfinished run");
    assert!(b.exists("#cancel"), "an unfinished run can be cancelled");
    b.screenshot("run-live");

    // The page's own script updates the badge (and reloads the page once the run is over).
    let mut seen = vec![first];
    b.wait_for("#run-status to read succeeded", Duration::from_secs(60), |b| {
        let t = b.run(async { b.c().find(Locator::Css("#run-status")).await?.text().await }).ok()?;
        if seen.last() != Some(&t) {
            seen.push(t.clone());
        }
        (t == "succeeded").then_some(())
    });
    assert!(seen.iter().all(|s| ["queued", "running", "succeeded"].contains(&s.as_str())), "statuses shown along the way: {seen:?}");
    b.wait_for("the DAG node to turn succeeded", WAIT, |b| class_of(b, "svg.dag g[data-node='nap']").contains("status-succeeded").then_some(()));
    b.wait_for("the node's badge to read succeeded", WAIT, |b| (b.text("[data-status-of='nap']") == "succeeded").then_some(()));
    b.wait_for("the page to show the finished run", WAIT, |b| (b.attr("body", "data-finished").as_deref() == Some("true")).then_some(()));
    let row = b.text("tr[data-node-row='nap']");
    assert!(row.contains("\"done\": \"from the browser\""), "the node's output, from the form's label: {row:?}");
    assert!(b.text("main p").contains("date 2024-05-01"), "the run's date, from the form");
    assert!(!b.exists("#cancel") && !b.exists("#rerun"), "a succeeded run offers neither cancel nor rerun");

    let detail = server.run(&run);
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}");
    assert_eq!(detail["run"]["date"], "2024-05-01", "{detail:#}");
    assert_eq!(node(&detail, "nap")["outputs"]["done"], "from the browser", "{detail:#}");
}

/// Notebook outputs that try to script the app stay inert: HTML and JavaScript
/// outputs run only inside sandboxed frames; text and markdown stay text.
#[test]
fn hostile_notebook_outputs_cannot_script_the_app() {
    browser_binaries();
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "5"]);
    server.register_from(&ui_fixture("xss.yaml"));
    let _w = Worker::start(&server, "wa", &["--slots", "2"]);
    let run = server.trigger("xss", json!({}));
    let detail = server.wait_finished(&run, Duration::from_secs(120));
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}");

    let b = Browser::start();
    b.goto(&format!("{}/runs/{run}/nodes/hostile/attempts/1", server.url));
    b.find(".notebook");
    let frames = b.find_all(".notebook iframe");
    assert!(frames.len() >= 2, "the HTML and the JavaScript outputs each get a frame; found {}", frames.len());
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(b.attr_of(f, "sandbox").as_deref(), Some("allow-scripts"), "iframe {i}: sandbox");
    }
    // Bring every (lazily loaded) frame into view, and wait until each has loaded
    // what the notebook put there: the hostile scripts have had their chance then.
    let mut origins = Vec::new();
    let mut html_frames = 0;
    for (i, f) in frames.into_iter().enumerate() {
        b.js(&format!("document.querySelectorAll('.notebook iframe')[{i}].scrollIntoView(); return null;"));
        b.enter(f);
        b.wait_for(&format!("iframe {i} to load its document"), WAIT, |b| (b.try_js("return document.readyState")? == "complete" && b.try_js("return document.body ? document.body.innerHTML.length : 0")?.as_u64()? > 0).then_some(()));
        origins.push(b.js("return window.origin"));
        if b.exists("#inside") {
            assert_eq!(b.text("#inside"), "rendered inside the sandbox");
            // Scripts do run in the frame (plots work); the sandbox is what keeps them out.
            b.wait_for("the output's own script to run", WAIT, |b| (b.try_js("return document.getElementById('ran').textContent")? == "script ran in the sandbox").then_some(()));
            html_frames += 1;
        }
        b.leave_frame();
    }
    assert!(origins.iter().all(|o| o == "null"), "sandboxed frames run in an opaque origin: {origins:?}");
    assert_eq!(html_frames, 1, "the HTML output's frame");
    b.js("window.scrollTo(0, 0); return null;");
    // Give any script that could run a moment to do its worst; then look.
    std::thread::sleep(Duration::from_secs(2));
    let title = b.js("return document.title").as_str().unwrap_or_default().to_string();
    assert!(!title.contains("pwned"), "a notebook output changed the app's title to {title:?}");
    assert_eq!(b.js("return document.body.hasAttribute('data-pwned')"), false, "a notebook output reached the app's DOM");
    let scripts = b.js("return Array.from(document.scripts).map(s => s.getAttribute('src') || ('inline: ' + s.textContent))");
    assert_eq!(scripts, json!(["/ui/app.js"]), "the page's only script is the app's own");
    assert_eq!(b.js("return document.querySelectorAll('[onerror], [onload], [onclick]').length"), 0, "no event-handler attributes in the app's DOM");
    let iframes = b.js("return Array.from(document.querySelectorAll('iframe')).map(f => f.getAttribute('sandbox'))");
    assert!(iframes.as_array().is_some_and(|a| !a.is_empty() && a.iter().all(|s| s == "allow-scripts")), "every iframe is sandboxed with allow-scripts only: {iframes}");
    let notebook = b.text(".notebook");
    assert!(notebook.contains("<script>document.title='pwned3'</script>"), "printed markup shows as text: {notebook:?}");
    assert!(notebook.contains("<img src=x onerror=\"document.title='pwned4'\">"), "raw HTML in markdown shows as text: {notebook:?}");
    assert!(notebook.contains("plain markdown after the raw HTML"), "the markdown still renders: {notebook:?}");
    b.screenshot("attempt-hostile");
    let title = b.js("return document.title").as_str().unwrap_or_default().to_string();
    assert!(!title.contains("pwned"), "a notebook output changed the app's title to {title:?}");
}

/// With a token, the UI asks for it before showing anything, refuses a wrong one,
/// and keeps the session in an HttpOnly cookie; the API still wants the bearer token.
#[test]
fn with_a_token_the_ui_signs_in_first() {
    browser_binaries();
    let dir = tmp();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "ui-test-token-7f3a9c\n").unwrap();
    let server = Server::start(&dir.path().join("data"), &["--token-file", token_file.to_str().unwrap()]);
    server.register_from(&ui_fixture("quick.yaml"));

    let b = Browser::start();
    b.goto(&format!("{}/", server.url));
    b.wait_path("/login");
    assert!(b.exists("input#token"), "the sign-in form");
    assert!(!b.page_text().contains("quick"), "nothing about the workflows before signing in: {}", b.page_text());
    b.screenshot("login");
    b.goto(&format!("{}/workflows/quick", server.url));
    b.wait_path("/login");
    assert!(!b.page_text().contains("quick"));

    b.type_into("input#token", "not-the-token");
    b.click("form[action='/login'] button[type='submit']");
    let refusal = b.text(".errorbox");
    assert!(refusal.contains("not this server's token"), "the refusal: {refusal:?}");
    assert_eq!(b.path(), "/login");
    assert!(!b.page_text().contains("quick"));
    b.goto(&format!("{}/", server.url));
    b.wait_path("/login");

    b.type_into("input#token", "ui-test-token-7f3a9c");
    b.click("form[action='/login'] button[type='submit']");
    b.wait_path("/");
    let row = b.text("tr[data-workflow='quick']");
    assert!(row.contains("quick"), "the workflow after signing in: {row:?}");
    assert_eq!(b.js("return document.cookie"), "", "the session cookie is HttpOnly: scripts can't read it");
    b.goto(&format!("{}/workflows/quick", server.url));
    b.wait_path("/workflows/quick");
    assert_eq!(b.text("main h1"), "quick");

    let api = server.client();
    assert_eq!(api.get("/api/v1/workflows").0, 200, "the API with the token");
    let anonymous = server.client().with_token(None);
    assert_eq!(anonymous.get("/api/v1/workflows").0, 401, "the API without a token");
    assert_eq!(anonymous.post("/api/v1/workflows/quick/runs", &json!({"params": {}})).0, 401, "triggering without a token");
    assert_eq!(server.client().with_token(Some("not-the-token")).get("/api/v1/workflows").0, 401, "the API with a wrong token");
}

/// Runs started by events, seen in the browser: a workflow's triggers and the
/// workflows around it (each a link), the events page with the run a signal
/// started, that run's page naming its event, and its wait node shown waiting
/// until the signal it waits for arrives.
#[test]
fn triggers_events_and_a_waiting_node_show_in_the_ui() {
    browser_binaries();
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "5"]);
    server.register_from(&ui_fixture("ingest.yaml"));
    server.register_from(&ui_fixture("report.yaml"));
    let _w = Worker::start(&server, "wa", &["--slots", "1"]);
    let b = Browser::start();

    b.goto(&format!("{}/workflows/report", server.url));
    let triggers = b.text("ul.triggers");
    assert!(triggers.contains("workflow:ingest") && triggers.contains("signal:go"), "{triggers:?}");
    assert!(triggers.contains("none yet"), "no event yet: {triggers:?}");
    // The small graph of workflows: ingest starts report; a click goes there.
    let href = b.attr("dd.links svg.dag a[href='/workflows/ingest']", "href").expect("a link to ingest");
    b.goto(&format!("{}{href}", server.url));
    b.wait_path("/workflows/ingest");
    assert!(b.exists("dd.links svg.dag a[href='/workflows/report']"), "ingest's page links to what it starts");

    let (status, accepted) = server.client().post("/api/v1/signals/go", &serde_json::json!({"params": {"label": "from a signal"}, "key": "ui-1"}));
    assert_eq!(status, 202, "{accepted:#}");
    let run = accepted["event"]["firings"][0]["run_id"].as_str().expect("the run the signal started").to_string();
    b.goto(&format!("{}/events", server.url));
    let row = b.text(&format!("tr[id='{}']", accepted["event"]["id"].as_str().unwrap()));
    assert!(row.contains("signal") && row.contains("go") && row.contains("ui-1") && row.contains(&run), "{row:?}");
    b.click(&format!("a[href='/runs/{run}']"));
    b.wait_path(&format!("/runs/{run}"));
    assert!(b.text("main p").contains("started by signal:go"), "{}", b.text("main p"));
    b.wait_for("the wait node to show waiting", WAIT, |b| class_of(b, "svg.dag g[data-node='gate']").contains("status-waiting").then_some(()));
    let detail = server.run(&run);
    assert_eq!(node(&detail, "gate")["status"], "waiting", "{detail:#}");
    b.screenshot("run-waiting");

    let (status, _) = server.client().post("/api/v1/signals/release", &serde_json::json!({}));
    assert_eq!(status, 202);
    b.wait_for("#run-status to read succeeded", Duration::from_secs(90), |b| {
        let t = b.run(async { b.c().find(Locator::Css("#run-status")).await?.text().await }).ok()?;
        (t == "succeeded").then_some(())
    });
    let detail = server.run(&run);
    assert_eq!(node(&detail, "nap")["outputs"]["done"], "from a signal", "the signal's param reached the notebook: {detail:#}");
    b.goto(&format!("{}/workflows/report", server.url));
    let triggers = b.text("ul.triggers");
    assert_eq!(triggers.matches("none yet").count(), 1, "the signal trigger shows its last event, ingest's has none: {triggers:?}");
}

/// A backfill's page shows its trends: a 10-date backfill with one failed date is
/// a line of 9 points with a gap at the failure, and a point's link opens the
/// notebook of its own date's run.
#[test]
fn a_backfill_page_charts_its_outputs_with_the_failed_date_as_a_gap() {
    browser_binaries();
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "5"]);
    server.register_from(&ui_fixture("daily.yaml"));
    let _w = Worker::start(&server, "wa", &["--slots", "2"]);
    let id = server.backfill_to_end("daily", serde_json::json!({"from": "2026-01-01", "to": "2026-01-10", "parallel": 2}), Duration::from_secs(300));
    let b = Browser::start();
    b.goto(&format!("{}/backfills/{id}", server.url));
    let chart = "section.trend-node[data-node='count'] figure[data-output='n'] svg.trend";
    assert!(b.exists(chart), "the backfill page charts n");
    let points = b.js(&format!("return [...document.querySelectorAll(\"{chart} circle.point\")].map(c => c.dataset.date);"));
    let dates: Vec<String> = (1..=10).filter(|d| *d != 3).map(|d| format!("2026-01-{d:02}")).collect();
    assert_eq!(points, serde_json::json!(dates), "nine points, in date order");
    assert!(b.exists(&format!("{chart} g.gap.status-failed[data-date='2026-01-03']")), "the failed date is a gap");
    let lines = b.js(&format!("return document.querySelectorAll(\"{chart} polyline.line\").length;"));
    assert_eq!(lines, serde_json::json!(2), "the line breaks at the gap: 01→02 and 04→10");
    assert!(b.text("figure[data-output='n'] figcaption").contains("1 failed"));
    b.screenshot("backfill-trend");

    // A point opens the notebook that recorded it.
    let href = b.js(&format!("return document.querySelector(\"{chart} circle.point[data-date='2026-01-07']\").closest('a').getAttribute('href');"));
    let href = href.as_str().expect("the point is a link").to_string();
    b.goto(&format!("{}{href}", server.url));
    assert!(b.text("main").contains("date 2026-01-07"), "{}", b.text("main"));
    let run = href.split('/').nth(2).unwrap().to_string();
    let detail = server.run(&run);
    assert_eq!(detail["run"]["date"], "2026-01-07");
    assert_eq!(node(&detail, "count")["outputs"]["n"], 70);

    // The workflow's own trends page, a range picked in its form.
    b.goto(&format!("{}/workflows/daily/trends?node=count&name=n&from=2026-01-05&to=2026-01-10", server.url));
    let n = b.js("return document.querySelectorAll('svg.trend circle.point').length;");
    assert_eq!(n, serde_json::json!(6), "05 to 10");
}

/// Two attempts that differ in a param, a stream output and an image, compared: in
/// the browser (reached from the attempt page; by default against the node's last
/// success) and with `deckle diff`.
#[test]
fn two_attempts_compared_in_the_browser_and_with_deckle_diff() {
    browser_binaries();
    let dir = tmp();
    let server = Server::start(&dir.path().join("data"), &["--lease-ttl", "5"]);
    server.register_from(&ui_fixture("paint.yaml"));
    let _w = Worker::start(&server, "wa", &["--slots", "1"]);
    let first = server.trigger("paint", serde_json::json!({"label": "red"}));
    assert_eq!(server.wait_finished(&first, Duration::from_secs(120))["run"]["status"], "succeeded");
    let second = server.trigger("paint", serde_json::json!({"label": "blue"}));
    assert_eq!(server.wait_finished(&second, Duration::from_secs(120))["run"]["status"], "succeeded");

    let b = Browser::start();
    b.goto(&format!("{}/runs/{second}/nodes/paint/attempts/1", server.url));
    let href = b.attr("a#compare-last-success", "href").expect("the attempt page links to the comparison");
    b.goto(&format!("{}{href}", server.url));
    assert!(b.text("#side-A").contains(&format!("{second}/paint/1")), "{}", b.text("#side-A"));
    assert!(b.text("#side-B").contains(&format!("{first}/paint/1")), "B is the node's last success: {}", b.text("#side-B"));
    let changed = b.text("table.compare-values tr.changed");
    assert!(changed.contains("label") && changed.contains("blue") && changed.contains("red"), "{changed:?}");
    assert!(b.text("#divergence").contains("cell 2"), "the injected params cell differs in source only; `say` prints the label: {}", b.text("#divergence"));
    let say = b.text("#cell-2 pre.outputs");
    assert!(say.contains("-label is blue") && say.contains("+label is red"), "the stream as a diff, `-` only in A (blue), `+` only in B (red): {say:?}");
    let images = b.js("return [...document.querySelectorAll('#cell-3 .images-side-by-side img')].map(i => i.naturalWidth);");
    assert_eq!(images, serde_json::json!([1, 1]), "both images shown, side by side, decoded");
    b.screenshot("compare");

    let o = crate::harness::deckle().args(["diff", &format!("{second}/paint"), &format!("{first}/paint/1"), "--server", &server.url]).env_remove("DECKLE_SERVER").env_remove("DECKLE_TOKEN").output().unwrap();
    assert_eq!(crate::harness::code(&o), 0, "{}", crate::harness::stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(text.contains("*  label  blue  red"), "{text}");
    assert!(text.contains("first cell whose outputs differ: 2"), "{text}");
    assert!(text.contains("    -label is blue") && text.contains("    +label is red"), "{text}");
    assert!(text.contains("images: 1 in A, 1 in B, not the same"), "{text}");
    // Without B, the first run is compared with the other success (the second run);
    // a reference that names nothing is a clear refusal.
    let o = crate::harness::deckle().args(["diff", &first, "--json", "--server", &server.url]).env_remove("DECKLE_SERVER").env_remove("DECKLE_TOKEN").output().unwrap();
    assert_eq!(crate::harness::code(&o), 0, "{}", crate::harness::stderr(&o));
    let c: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(c["b"]["run_id"], second.as_str(), "{c:#}");
    let o = crate::harness::deckle().args(["diff", &format!("{first}/nope"), "--server", &server.url]).env_remove("DECKLE_SERVER").env_remove("DECKLE_TOKEN").output().unwrap();
    assert_eq!(crate::harness::code(&o), 2, "{}", crate::harness::stderr(&o));
    assert!(crate::harness::stderr(&o).contains("node nope"), "{}", crate::harness::stderr(&o));
}
