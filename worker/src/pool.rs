//! Fresh kernels booted ahead of need.
//!
//! A kernel boot costs ~0.5 s of Python imports — more than a small notebook takes
//! to run. A [`KernelPool`] keeps `size` kernels booting or booted for one
//! (kernelspec, working dir, environment); [`KernelPool::take`] hands out the oldest
//! and starts a replacement at once. Kernels are never reused: each notebook gets a
//! kernel no other notebook has touched.
//!
//! For kernelspecs that use the standard ipykernel launcher, kernels are forked from
//! a [`Zygote`] that has done ipykernel's imports once, which roughly halves the CPU
//! a boot costs; set `DECKLE_NO_ZYGOTE=1` to boot every kernel from scratch.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;
use tokio::task::JoinHandle;
use tracing::warn;

use crate::error::{Error, Result};
use crate::kernel::{Kernel, LaunchOptions};
use crate::kernelspec::KernelSpec;
use crate::zygote::Zygote;

pub struct KernelPool {
    spec: KernelSpec,
    launch: LaunchOptions,
    size: usize,
    booting: Mutex<VecDeque<JoinHandle<Result<Kernel>>>>,
    /// Made by the first boot; `None` inside when forking is off or failed.
    zygote: Arc<OnceCell<Option<Arc<Zygote>>>>,
}

impl KernelPool {
    /// Start `size` kernels now. Must be called inside a tokio runtime.
    pub fn new(spec: KernelSpec, launch: LaunchOptions, size: usize) -> Arc<Self> {
        let pool = Arc::new(KernelPool { spec, launch, size, booting: Mutex::new(VecDeque::new()), zygote: Arc::default() });
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
            let forkable = Zygote::supports(&spec) && std::env::var_os("DECKLE_NO_ZYGOTE").is_none();
            let z = if forkable {
                zygote
                    .get_or_init(|| async {
                        match Zygote::start(&spec, launch.start_timeout).await {
                            Ok(z) => Some(Arc::new(z)),
                            Err(e) => {
                                warn!(error = %e, "kernel zygote unavailable; booting kernels from scratch");
                                None
                            }
                        }
                    })
                    .await
                    .clone()
            } else {
                None
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

    /// Does this pool serve a notebook that wants `kernel` with these settings?
    pub fn serves(&self, kernel: &str, launch: &LaunchOptions) -> bool {
        self.spec.name.eq_ignore_ascii_case(kernel) && self.launch.cwd == launch.cwd && self.launch.env == launch.env
    }

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
}

impl Pools {
    /// `size` warm kernels per combination; 0 disables warming.
    pub fn new(size: usize) -> Arc<Self> {
        Arc::new(Pools { size, pools: Mutex::new(Vec::new()) })
    }

    /// The pool for `spec` launched with `launch`, made on first use.
    pub fn pool_for(&self, spec: &KernelSpec, launch: &LaunchOptions) -> Option<Arc<KernelPool>> {
        if self.size == 0 {
            return None;
        }
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = pools.iter().find(|p| p.serves(&spec.name, launch)) {
            return Some(p.clone());
        }
        let pool = KernelPool::new(spec.clone(), launch.clone(), self.size);
        pools.push(pool.clone());
        Some(pool)
    }
}
