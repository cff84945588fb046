//! Reading a kernelspec's argv as "a Python interpreter running ipykernel".
//!
//! Kernelspecs that launch ipykernel come in many spellings: the wheel's
//! `python -m ipykernel_launcher -f {connection_file}`, `python -m ipykernel install`'s
//! absolute interpreter with `-Xfrozen_modules=off` (Python 3.11+), `-m ipykernel`,
//! extra kernel-app options such as `--matplotlib=inline`. [`parse`] splits any of
//! them into the interpreter, its own flags and the kernel app's arguments, so a
//! kernel can be forked from a zygote started with the same interpreter and flags.
//! Anything else (a wrapper such as `conda run` or `env`, `-c` code, a script, an
//! interpreter option we cannot reproduce) is refused with the reason.

use std::path::Path;

/// nbclient (and so papermill) starts ipykernel with an in-memory history: the
/// kernel then never touches the profile's SQLite history file, which parallel
/// kernels would otherwise share.
pub const MEMORY_HISTORY: &str = "--HistoryManager.hist_file=:memory:";

/// A kernelspec argv that launches ipykernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpykernelArgv {
    /// argv[0], as written (a bare `python` is resolved by the kernelspec).
    pub interpreter: String,
    /// The interpreter's own options, before `-m` (`-Xfrozen_modules=off`, `-E`, `-X`, `k=v`, …).
    pub interpreter_flags: Vec<String>,
    /// `ipykernel_launcher` or `ipykernel`.
    pub module: String,
    /// Everything after the module, placeholders unfilled (`-f`, `{connection_file}`, …).
    pub app_args: Vec<String>,
}

/// Interpreter options that take no value and mean the same in a zygote started
/// with `-c` as in `python -m`: `-b -B -d -E -I -O -P -q -R -s -S -u -v`.
const PLAIN_FLAGS: &str = "bBdEIOPqRsSuv";

/// Split `argv` into interpreter, flags and kernel app args; `Err` says why it is not
/// an ipykernel launch we can reproduce.
pub fn parse(argv: &[String]) -> Result<IpykernelArgv, String> {
    let (interpreter, rest) = argv.split_first().ok_or("the argv is empty")?;
    let base = Path::new(interpreter).file_name().and_then(|n| n.to_str()).unwrap_or("");
    if !(base.starts_with("python") || base.starts_with("pypy")) {
        return Err(format!("`{interpreter}` is not a Python interpreter"));
    }
    let mut flags = Vec::new();
    let mut module = None;
    let mut i = 0;
    while module.is_none() {
        let Some(arg) = rest.get(i) else { return Err("it runs no module (`-m`)".into()) };
        i += 1;
        if arg == "--check-hash-based-pycs" {
            let value = rest.get(i).ok_or("`--check-hash-based-pycs` has no value")?;
            i += 1;
            flags.extend([arg.clone(), value.clone()]);
            continue;
        }
        let Some(letters) = arg.strip_prefix('-').filter(|l| !l.is_empty() && !l.starts_with('-')) else {
            return Err(if arg.starts_with("--") {
                format!("the interpreter option `{arg}` is not one a forked kernel reproduces")
            } else {
                format!("it runs the script `{arg}`, not a module")
            });
        };
        // Short options may be combined (`-Es`, `-OO`, `-Em mod`); `X`, `W` and `m`
        // take the rest of the word, or else the next word, as their value.
        let mut plain = String::new();
        for (at, c) in letters.char_indices() {
            if PLAIN_FLAGS.contains(c) {
                plain.push(c);
                continue;
            }
            if !matches!(c, 'X' | 'W' | 'm') {
                return Err(match c {
                    'c' => "it runs code given with `-c`, not a module".into(),
                    _ => format!("the interpreter option `-{c}` is not one a forked kernel reproduces"),
                });
            }
            let attached = &letters[at + 1..];
            let value = if attached.is_empty() {
                i += 1;
                rest.get(i - 1).cloned().ok_or_else(|| format!("`-{c}` has no value"))?
            } else {
                attached.to_string()
            };
            if !plain.is_empty() {
                flags.push(format!("-{}", std::mem::take(&mut plain)));
            }
            if c == 'm' {
                module = Some(value);
            } else {
                flags.push(format!("-{c}{value}"));
            }
            break;
        }
        if !plain.is_empty() {
            flags.push(format!("-{plain}"));
        }
    }
    let module = module.unwrap_or_default();
    if module != "ipykernel_launcher" && module != "ipykernel" {
        return Err(format!("it runs the module `{module}`, not ipykernel"));
    }
    let app_args = rest[i..].to_vec();
    if !app_args.iter().any(|a| a.contains("{connection_file}")) {
        return Err("it passes no `{connection_file}` to the kernel".into());
    }
    Ok(IpykernelArgv { interpreter: interpreter.clone(), interpreter_flags: flags, module, app_args })
}

/// Does the spec choose the history file itself? (nbclient's own test.)
pub fn sets_history_file(app_args: &[String]) -> bool {
    app_args.iter().any(|a| a.starts_with("--HistoryManager.hist_file"))
}

impl IpykernelArgv {
    /// The kernel app's arguments as the kernel gets them: placeholders filled, and
    /// in-memory history unless the spec sets a history file.
    pub fn kernel_app_args(&self, connection_file: &Path, resource_dir: &Path) -> Vec<String> {
        let mut args: Vec<String> = self.app_args.iter().map(|a| fill(a, connection_file, resource_dir)).collect();
        if !sets_history_file(&self.app_args) {
            args.push(MEMORY_HISTORY.to_string());
        }
        args
    }
}

/// `{connection_file}` and `{resource_dir}` replaced, as jupyter_client does.
pub fn fill(arg: &str, connection_file: &Path, resource_dir: &Path) -> String {
    arg.replace("{connection_file}", &connection_file.to_string_lossy())
        .replace("{resource_dir}", &resource_dir.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn ok(words: &[&str]) -> IpykernelArgv {
        parse(&argv(words)).unwrap_or_else(|e| panic!("{words:?} refused: {e}"))
    }

    fn refused(words: &[&str]) -> String {
        match parse(&argv(words)) {
            Ok(p) => panic!("{words:?} accepted as {p:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn the_wheel_kernelspec_has_no_flags() {
        let p = ok(&["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]);
        assert_eq!(p.interpreter, "python");
        assert!(p.interpreter_flags.is_empty());
        assert_eq!(p.module, "ipykernel_launcher");
        assert_eq!(p.app_args, argv(&["-f", "{connection_file}"]));
    }

    #[test]
    fn ipykernel_install_on_python_3_11_keeps_its_frozen_modules_flag() {
        let p = ok(&["/opt/venv/bin/python", "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"]);
        assert_eq!(p.interpreter, "/opt/venv/bin/python");
        assert_eq!(p.interpreter_flags, argv(&["-Xfrozen_modules=off"]));
        assert_eq!(p.app_args, argv(&["-f", "{connection_file}"]));
    }

    #[test]
    fn separate_combined_and_valued_interpreter_flags() {
        let p = ok(&["/usr/bin/python3.12", "-E", "-su", "-X", "dev", "-W", "ignore", "-OO", "-m", "ipykernel", "-f", "{connection_file}"]);
        assert_eq!(p.interpreter_flags, argv(&["-E", "-su", "-Xdev", "-Wignore", "-OO"]));
        assert_eq!(p.module, "ipykernel");
        // a flag group that ends in `m` names the module
        let p = ok(&["python3", "-Em", "ipykernel_launcher", "-f", "{connection_file}"]);
        assert_eq!(p.interpreter_flags, argv(&["-E"]));
        assert_eq!(p.module, "ipykernel_launcher");
        let p = ok(&["python3", "-mipykernel_launcher", "-f", "{connection_file}"]);
        assert!(p.interpreter_flags.is_empty());
        assert_eq!(p.module, "ipykernel_launcher");
    }

    #[test]
    fn conda_and_prefix_installs_with_options_after_the_connection_file() {
        let p = ok(&[
            "/opt/conda/envs/ds/bin/python",
            "-m",
            "ipykernel_launcher",
            "--matplotlib=inline",
            "-f",
            "{connection_file}",
            "--IPKernelApp.xyz=1",
        ]);
        assert_eq!(p.app_args, argv(&["--matplotlib=inline", "-f", "{connection_file}", "--IPKernelApp.xyz=1"]));
        assert_eq!(ok(&["pypy3", "-m", "ipykernel", "-f={connection_file}"]).app_args, argv(&["-f={connection_file}"]));
    }

    #[test]
    fn other_argvs_are_refused_with_the_reason() {
        assert!(refused(&["conda", "run", "-n", "ds", "python", "-m", "ipykernel_launcher", "-f", "{connection_file}"])
            .contains("`conda` is not a Python interpreter"));
        assert!(refused(&["/usr/bin/env", "python", "-m", "ipykernel_launcher", "-f", "{connection_file}"])
            .contains("not a Python interpreter"));
        assert!(refused(&["python", "-c", "import x", "-f", "{connection_file}"]).contains("`-c`"));
        assert!(refused(&["python", "kernel.py", "-f", "{connection_file}"]).contains("script `kernel.py`"));
        assert!(refused(&["python", "-m", "bash_kernel", "-f", "{connection_file}"]).contains("module `bash_kernel`"));
        assert!(refused(&["python", "-i", "-m", "ipykernel", "-f", "{connection_file}"]).contains("`-i`"));
        assert!(refused(&["python", "--help"]).contains("`--help`"));
        assert!(refused(&["python", "-m", "ipykernel_launcher"]).contains("{connection_file}"));
        assert!(refused(&["python", "-X"]).contains("`-X` has no value"));
        assert!(refused(&["python", "-E"]).contains("no module"));
        assert!(refused(&[]).contains("empty"));
        assert!(refused(&["R", "--slave", "-e", "IRkernel::main()", "--args", "{connection_file}"]).contains("`R`"));
    }

    #[test]
    fn kernel_app_args_get_in_memory_history_unless_the_spec_sets_one() {
        let p = ok(&["python", "-m", "ipykernel_launcher", "-f", "{connection_file}", "--log={resource_dir}/x"]);
        let args = p.kernel_app_args(Path::new("/t/c.json"), Path::new("/k"));
        assert_eq!(args, argv(&["-f", "/t/c.json", "--log=/k/x", MEMORY_HISTORY]));
        let p = ok(&["python", "-m", "ipykernel_launcher", "-f", "{connection_file}", "--HistoryManager.hist_file=/h.sqlite"]);
        let args = p.kernel_app_args(Path::new("/t/c.json"), Path::new("/k"));
        assert_eq!(args, argv(&["-f", "/t/c.json", "--HistoryManager.hist_file=/h.sqlite"]));
    }
}
