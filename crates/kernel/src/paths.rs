//! Which path served the calls of this thread: the fused CPU kernels, the generic tensor
//! operations or the CubeCL kernel. Counters, not switches: tests read them to prove which path ran.

use std::cell::Cell;

/// The implementations of a rule (see [`crate::Num`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// One pass over the CPU buffers, eight lanes at a time.
    Fused,
    /// Tensor operations, on any device.
    Generic,
    /// One CubeCL kernel per update, the rule traced into it (wgpu and the other CubeCL
    /// devices; see `crate::cube`).
    Kernel,
}

thread_local! {
    static COUNTS: Cell<[u64; 3]> = const { Cell::new([0, 0, 0]) };
}

/// Counts one call served by `path` on this thread.
pub fn record(path: Path) {
    COUNTS.with(|c| {
        let mut v = c.get();
        v[path as usize] += 1;
        c.set(v);
    });
}

/// Calls served by `path` on this thread so far (optimizer updates of one tensor, loss calls).
pub fn count(path: Path) -> u64 {
    COUNTS.with(|c| c.get()[path as usize])
}
