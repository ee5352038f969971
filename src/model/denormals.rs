//! Denormal floats flushed to zero while a model trains on the CPU.
//!
//! Late in a long run some gradients fall below f32's smallest normal value (1.2e-38). x86 CPUs
//! compute with such denormal numbers through microcode, many times slower (the model bench
//! measures it): a run on the pool and the rendered scores went from 17 s to 64–80 s an epoch
//! after epoch 55 of 80, with memory flat and nearly all of the time inside gemm's
//! matrix-product kernel. Treating them as zero (the MXCSR register's FTZ and DAZ bits, what
//! PyTorch's `set_flush_denormal(True)` sets) costs nothing in precision that training can
//! notice; it only changes values that were below 1.2e-38.

/// While alive, the calling thread and every thread of rayon's global pool (where the CPU
/// backend's matrix products run) flush denormals to zero; dropping it restores each thread's
/// previous setting. A no-op on CPUs other than x86-64.
pub struct FlushDenormals {
    caller_previous: Option<u32>,
    /// Whether rayon's pool was set too (and is restored on drop).
    pool: bool,
}

impl FlushDenormals {
    pub fn on_cpu_threads() -> Self {
        let caller_previous = flush::set();
        // Each pool thread sets its own register; what it had before is what every thread of
        // this process starts with (MXCSR's default), which `drop` restores.
        rayon::broadcast(|_| flush::set());
        FlushDenormals { caller_previous, pool: true }
    }

    /// The calling thread only: for threads a training starts beside rayon's pool (each shard of
    /// a batch computes on its own thread), which [`Self::on_cpu_threads`] does not reach.
    pub fn on_this_thread() -> Self {
        FlushDenormals { caller_previous: flush::set(), pool: false }
    }
}

impl Drop for FlushDenormals {
    fn drop(&mut self) {
        if let Some(previous) = self.caller_previous {
            if self.pool {
                rayon::broadcast(|_| flush::restore(previous));
            }
            flush::restore(previous);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod flush {
    /// MXCSR bit 15: results that would be denormal are zero (flush to zero).
    const FTZ: u32 = 1 << 15;
    /// MXCSR bit 6: denormal inputs are read as zero (denormals are zero).
    const DAZ: u32 = 1 << 6;

    fn read() -> u32 {
        let mut csr: u32 = 0;
        // SAFETY: stmxcsr stores the 32-bit MXCSR register (present on every x86-64 CPU) to the
        // address given, which points at a live u32.
        #[allow(unsafe_code)]
        unsafe {
            core::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags))
        };
        csr
    }

    fn write(csr: u32) {
        // SAFETY: ldmxcsr loads MXCSR from a live u32; only the FTZ and DAZ bits of a value
        // read from the register itself are changed, and every x86-64 CPU has both (DAZ since
        // SSE2), so no reserved bit is set.
        #[allow(unsafe_code)]
        unsafe {
            core::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, readonly, preserves_flags))
        };
    }

    /// Sets FTZ and DAZ on this thread; returns the register as it was.
    pub fn set() -> Option<u32> {
        let previous = read();
        write(previous | FTZ | DAZ);
        Some(previous)
    }

    pub fn restore(previous: u32) {
        write(previous);
    }

    #[cfg(test)]
    pub fn is_set() -> bool {
        read() & (FTZ | DAZ) == FTZ | DAZ
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod flush {
    pub fn set() -> Option<u32> {
        None
    }

    pub fn restore(_previous: u32) {}
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// The smallest normal f32 halved: a denormal, unless the thread flushes it.
    fn half_of_smallest_normal() -> f32 {
        std::hint::black_box(f32::MIN_POSITIVE) * std::hint::black_box(0.5)
    }

    #[test]
    fn denormals_are_zero_on_every_pool_thread_while_held_and_come_back_after() {
        assert!(half_of_smallest_normal() > 0.0, "this thread starts without flushing");
        {
            let _flush = FlushDenormals::on_cpu_threads();
            assert_eq!(half_of_smallest_normal(), 0.0, "the caller flushes");
            let pool_results = rayon::broadcast(|_| (flush::is_set(), half_of_smallest_normal()));
            assert!(pool_results.iter().all(|&(set, value)| set && value == 0.0), "{pool_results:?}");
        }
        assert!(half_of_smallest_normal() > 0.0, "the caller's setting is restored");
        let pool_results = rayon::broadcast(|_| half_of_smallest_normal());
        assert!(pool_results.iter().all(|&value| value > 0.0), "the pool's setting is restored: {pool_results:?}");
    }
}
