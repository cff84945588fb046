//! The fuzzing harness shared by `dsl/tests/fuzz.rs` and
//! `worker/tests/fuzz_notebook.rs`: a seeded xorshift generator, a byte mutator
//! over a seed corpus, per-case time limits, and the seed files of the
//! repository. Stable Rust, no dependencies.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Per-case time limit. Generous so a loaded CI machine does not flake; a real
/// hang (or quadratic blow-up on a big input) still shows.
pub const CASE_LIMIT: Duration = Duration::from_secs(5);

pub fn cases() -> usize {
    std::env::var("DECKLE_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}

pub fn seed() -> u64 {
    std::env::var("DECKLE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_dec1e)
}

/// xorshift64*: deterministic, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Bytes that matter to YAML and JSON, to make mutations reach deeper.
pub const SYNTAX: &[&[u8]] = &[
    b":",
    b"-",
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b"&a",
    b"*a",
    b"!!str",
    b"!!int",
    b"!!float",
    b"<<",
    b"'",
    b"\"",
    b"\n",
    b"\n  ",
    b"\t",
    b"#",
    b"---\n",
    b"...\n",
    b"|",
    b">",
    b"?",
    b"%YAML 1.2\n",
    b"\0",
    b"\xff",
    b"\xc3",
    b"${{",
    b"}}",
    b"~",
    b".inf",
    b"-0x8000000000000000",
    b"99999999999999999999",
    b"1e999",
    b"\\u0000",
    b"\xef\xbb\xbf",
    b"\r",
    b"@",
];

/// One random edit of `data`: flip, insert, delete, duplicate or splice.
pub fn mutate(rng: &mut Rng, data: &mut Vec<u8>, corpus: &[Vec<u8>], interesting: &[&[u8]]) {
    let edits = 1 + rng.below(8);
    for _ in 0..edits {
        let len = data.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(len + 1);
                let tok = rng.pick(interesting);
                data.splice(i..i, tok.iter().copied());
            }
            3 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                data.drain(a..b);
            }
            4 if len > 0 => {
                // Duplicate a chunk (repeats keys, nests blocks).
                let a = rng.below(len);
                let b = (a + 1 + rng.below(256)).min(len);
                let chunk: Vec<u8> = data[a..b].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, chunk);
            }
            5 if !corpus.is_empty() => {
                // Splice in a piece of another seed.
                let other = rng.pick(corpus);
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = (a + 1 + rng.below(512)).min(other.len());
                    let at = rng.below(len + 1);
                    data.splice(at..at, other[a..b].iter().copied());
                }
            }
            6 if len > 0 => data.truncate(rng.below(len)),
            _ => {
                let i = rng.below(len + 1);
                data.insert(i, rng.next() as u8);
            }
        }
    }
}

/// Run `f` on its own thread; fail the test (naming `what`) on a panic or when
/// it takes longer than [`CASE_LIMIT`]. Returns the elapsed time.
pub fn bounded<F: FnOnce() + Send + 'static>(what: &str, f: F) -> Duration {
    let start = Instant::now();
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(format!("fuzz case {what}"))
        .spawn(move || {
            f();
            let _ = tx.send(());
        })
        .unwrap();
    match rx.recv_timeout(CASE_LIMIT) {
        Ok(()) => {
            handle.join().unwrap();
            start.elapsed()
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let _ = handle.join();
            panic!("case {what} panicked (see the message above)");
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("case {what} took longer than {CASE_LIMIT:?}")
        }
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Files under `dir` (recursively) ending with one of `exts`, sorted.
pub fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, exts, out);
        } else if exts.iter().any(|x| p.to_string_lossy().ends_with(x)) {
            out.push(p);
        }
    }
}

pub fn notebook_seeds() -> Vec<Vec<u8>> {
    let root = repo_root();
    let mut paths = Vec::new();
    files(&root.join("examples"), &[".ipynb"], &mut paths);
    files(
        &root.join("integration-tests/fixtures"),
        &[".ipynb"],
        &mut paths,
    );
    assert!(
        paths.len() >= 5,
        "expected notebook seed files, found {paths:?}"
    );
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}
