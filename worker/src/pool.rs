//! Fresh kernels booted ahead of need.
//!
//! A kernel boot costs ~0.5 s of Python imports — more than a small notebook takes
//! to run. A [`KernelPool`] keeps `size` kernels booting or booted for one
//! (kernelspec, working dir, environment); [`KernelPool::take`] hands out the oldest
//! and starts a replacement at once. Kernels are never reused: each notebook gets a
//! kernel no other notebook has touched.
//!
//! For kernelspecs that launch ipykernel, kernels are forked from a [`Zygote`] that
//! has done ipykernel's imports once, which roughly halves the CPU a boot costs. One
//! zygote serves every pool with the same [`ZygoteKey`] (interpreter, its flags, the
//! spec's environment); set `DECKLE_NO_ZYGOTE=1` to boot every kernel from scratch.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::error::{Error, Result};
use crate::kernel::{Kernel, LaunchOptions};
use crate::kernelspec::KernelSpec;
use crate::zygote::{Zygote, ZygoteKey};

/// A zygote made by the first boot that needs it; `None` inside when starting it failed.
type ZygoteCell = Arc<OnceCell<Option<Arc<Zygote>>>>;

/// Warm kernels of one kernelspec and launch options.
pub struct KernelPool {
    spec: KernelSpec,
    launch: LaunchOptions,
    size: usize,
    booting: Mutex<VecDeque<JoinHandle<Result<Kernel>>>>,
    /// Where this pool's kernels are forked from; `None` when they boot from scratch.
    zygote: Option<(ZygoteKey, ZygoteCell)>,
}

impl KernelPool {
    /// Start `size` kernels now, booted from scratch. Must be called inside a tokio runtime.
    pub fn new(spec: KernelSpec, launch: LaunchOptions, size: usize) -> Arc<Self> {
        Self::with_zygote(spec, launch, size, None)
    }

    /// Start `size` kernels now, forked from the zygote in `zygote` when given.
    fn with_zygote(spec: KernelSpec, launch: LaunchOptions, size: usize, zygote: Option<(ZygoteKey, ZygoteCell)>) -> Arc<Self> {
        let pool = Arc::new(KernelPool { spec, launch, size, booting: Mutex::new(VecDeque::new()), zygote });
        for _ in 0..size {
            pool.boot_one();
        }
        pool
    }

    fn boot_one(&self) {
        let spec = self.spec.clone();
        let launch = self.launch.clone();
        let zygote = self.zygote.clone();
        let handle = tokio::spawn(async move {
            let z = match &zygote {
                Some((key, cell)) => cell
                    .get_or_init(|| async {
                        match Zygote::start(key, &spec.name, launch.start_timeout).await {
                            Ok(z) => Some(Arc::new(z)),
                            Err(e) => {
                                warn!(error = %e, "kernel zygote unavailable; booting kernels from scratch");
                                None
                            }
                        }
                    })
                    .await
                    .clone(),
                None => None,
            };
            match z {
                Some(z) => match Kernel::start_with(&spec, &launch, Some(&z)).await {
                    Ok(k) => Ok(k),
                    Err(e) => {
                        warn!(error = %e, "forked kernel failed to start; booting one from scratch");
                        Kernel::start(&spec, &launch).await
                    }
                },
                None => Kernel::start(&spec, &launch).await,
            }
        });
        self.booting.lock().unwrap_or_else(|p| p.into_inner()).push_back(handle);
    }

    /// Does this pool serve a notebook that wants `spec` with these settings? The
    /// spec is compared whole: a kernel.json rewritten under the same name (other
    /// flags, other arguments) gets a pool of its own.
    pub fn serves(&self, spec: &KernelSpec, launch: &LaunchOptions) -> bool {
        let s = &self.spec;
        s.name.eq_ignore_ascii_case(&spec.name)
            && (&s.dir, &s.argv, &s.env, &s.interrupt_mode) == (&spec.dir, &spec.argv, &spec.env, &spec.interrupt_mode)
            && self.launch.cwd == launch.cwd
            && self.launch.env == launch.env
    }

    /// The kernelspec its kernels run.
    pub fn spec(&self) -> &KernelSpec {
        &self.spec
    }

    /// The oldest booted (or booting) kernel; a replacement starts booting now. A
    /// kernel that died while waiting is skipped.
    pub async fn take(&self) -> Result<Kernel> {
        for _ in 0..=self.size {
            let next = self.booting.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
            self.boot_one();
            let Some(handle) = next else { continue };
            match handle.await {
                Ok(Ok(k)) if k.is_alive() => return Ok(k),
                Ok(Ok(_)) => continue,
                Ok(Err(e)) => return Err(e),
                Err(e) => return Err(Error::Protocol(format!("kernel boot task failed: {e}"))),
            }
        }
        Kernel::start(&self.spec, &self.launch).await
    }
}

impl std::fmt::Debug for KernelPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelPool").field("kernel", &self.spec.name).field("size", &self.size).finish()
    }
}

impl Drop for KernelPool {
    fn drop(&mut self) {
        // Kernels still booting are killed when their task is aborted and the
        // `Kernel` (or its start guard) is dropped.
        for h in self.booting.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            h.abort();
        }
    }
}

/// Pools by (kernel, working dir, environment), each made the first time a notebook
/// asks for that combination. What an executor keeps for the lifetime of a worker.
#[derive(Debug)]
pub struct Pools {
    size: usize,
    pools: Mutex<Vec<Arc<KernelPool>>>,
    zygotes: Mutex<HashMap<ZygoteKey, ZygoteCell>>,
}

impl Pools {
    /// `size` warm kernels per combination; 0 disables warming.
    pub fn new(size: usize) -> Arc<Self> {
        Arc::new(Pools { size, pools: Mutex::new(Vec::new()), zygotes: Mutex::default() })
    }

    /// The pool for `spec` launched with `launch`, made on first use.
    pub fn pool_for(&self, spec: &KernelSpec, launch: &LaunchOptions) -> Option<Arc<KernelPool>> {
        if self.size == 0 {
            return None;
        }
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = pools.iter().find(|p| p.serves(spec, launch)) {
            return Some(p.clone());
        }
        let pool = KernelPool::with_zygote(spec.clone(), launch.clone(), self.size, self.zygote_for(spec));
        pools.push(pool.clone());
        Some(pool)
    }

    /// The zygote cell `spec`'s kernels fork from, shared by every pool with the same
    /// key; `None` (with the reason in the debug log) when they boot from scratch.
    fn zygote_for(&self, spec: &KernelSpec) -> Option<(ZygoteKey, ZygoteCell)> {
        if std::env::var_os("DECKLE_NO_ZYGOTE").is_some() {
            debug!(kernel = %spec.name, "DECKLE_NO_ZYGOTE is set; booting kernels from scratch");
            return None;
        }
        match ZygoteKey::of(spec) {
            Ok(key) => {
                let mut zygotes = self.zygotes.lock().unwrap_or_else(|p| p.into_inner());
                let cell = zygotes.entry(key.clone()).or_default().clone();
                Some((key, cell))
            }
            Err(why) => {
                debug!(kernel = %spec.name, argv = ?spec.argv, "kernels of this kernelspec are not forked from a zygote: {why}; booting them from scratch");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, argv: &[&str]) -> KernelSpec {
        KernelSpec {
            name: name.into(),
            dir: "/k".into(),
            prefix: None,
            argv: argv.iter().map(|a| a.to_string()).collect(),
            display_name: name.into(),
            language: "python".into(),
            env: Default::default(),
            interrupt_mode: "signal".into(),
        }
    }

    #[test]
    fn zygotes_are_keyed_by_interpreter_flags_and_env_not_by_kernel_app_args() {
        let pools = Pools::new(1);
        let cell = |s: &KernelSpec| pools.zygote_for(s).map(|(_, c)| c);
        let plain = cell(&spec("a", &["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"])).unwrap();
        let opts = cell(&spec("b", &["/usr/bin/python3", "-m", "ipykernel", "-f", "{connection_file}", "--matplotlib=inline"])).unwrap();
        let flagged = cell(&spec("a", &["/usr/bin/python3", "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"])).unwrap();
        assert!(Arc::ptr_eq(&plain, &opts), "kernel-app args are given per fork");
        assert!(!Arc::ptr_eq(&plain, &flagged), "other interpreter flags need another zygote");
        let mut with_env = spec("a", &["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"]);
        with_env.env.insert("X".into(), "1".into());
        assert!(!Arc::ptr_eq(&plain, &cell(&with_env).unwrap()), "the spec's env is the zygote's");
        assert!(cell(&spec("r", &["R", "--slave", "-e", "IRkernel::main()", "--args", "{connection_file}"])).is_none());
    }

    #[tokio::test]
    async fn a_kernel_json_rewritten_under_the_same_name_gets_its_own_pool() {
        // No interpreter at /nonexistent: the pools' boots fail in the background.
        let pools = Pools::new(1);
        let launch = LaunchOptions::default();
        let a = spec("k", &["/nonexistent/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]);
        let b = spec("k", &["/nonexistent/python", "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"]);
        let pa = pools.pool_for(&a, &launch).unwrap();
        assert!(Arc::ptr_eq(&pa, &pools.pool_for(&a, &launch).unwrap()));
        assert!(!Arc::ptr_eq(&pa, &pools.pool_for(&b, &launch).unwrap()));
    }
}
