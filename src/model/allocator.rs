//! The C allocator's thresholds, set for training on the CPU.
//!
//! A training step on Flex allocates and frees the same few dozen buffers each step, many of
//! them 0.5 to 6 MB (a shard's unfolded input, its gradients, Adam's moments). glibc's malloc
//! serves a block above its mmap threshold straight from the kernel, and gives the top of a
//! heap back to the kernel once more than its trim threshold lies free there; both thresholds
//! move with the program's history (the first from 128 KiB up to 32 MiB as such blocks are
//! freed). With the batch's shards each on a thread of its own, and so each in an arena of its
//! own, the freed buffers kept going back and being faulted in and zeroed again: `perf` put
//! about 10 % of a step in the kernel's page-fault, page-clearing and unmapping paths. With the
//! thresholds fixed (32 MiB, 256 MiB) those paths leave the profile: in the model bench (a fresh
//! process that only trains, against glibc's own thresholds in the same run) a step runs 1.09
//! to 1.26× as fast; a `train` epoch about 1.08×, as the program's earlier work has already
//! raised glibc's moving threshold; peak memory 10 MB more in a bench run of 40 steps, the same
//! in `train`.

/// The largest block served from the heap rather than mapped on its own: the most glibc's
/// dynamic threshold rises to on 64-bit systems.
const MMAP_THRESHOLD: i32 = 32 << 20;
/// How much free memory the top of a heap may hold before it is given back to the kernel.
const TRIM_THRESHOLD: i32 = 256 << 20;

/// Fixes the C allocator's thresholds so that freed training buffers are reused instead of
/// returned to the kernel and faulted in again. Process-wide; call it once, early (the binary
/// does so first thing). Returns whether both were set: false where the C library is not
/// glibc, or where it refused them.
pub fn reuse_freed_memory() -> bool {
    imp::set_thresholds()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod imp {
    pub fn set_thresholds() -> bool {
        // SAFETY: mallopt only changes two of malloc's tuning parameters; it takes plain
        // integers, touches no memory of ours and is safe to call from any thread.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, super::MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, super::TRIM_THRESHOLD) == 1
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub fn set_thresholds() -> bool {
        false
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    #[test]
    fn glibc_accepts_the_thresholds() {
        // mallopt refuses an mmap threshold above its maximum (32 MiB on 64-bit systems) by
        // returning 0: this fails if the constant is raised past what glibc takes.
        assert!(super::reuse_freed_memory());
    }
}
