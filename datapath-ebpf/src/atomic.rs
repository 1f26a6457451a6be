//! Atomic read-modify-write on map values. `core`'s atomic types have no
//! read-modify-write methods on the BPF target (it declares no
//! compare-and-swap), but the instructions exist from BPF ISA v3 (the
//! crate builds with `target-cpu=v3`; kernels since 5.12 accept them), so
//! the compiler intrinsics give `BPF_ATOMIC | BPF_ADD | BPF_FETCH` directly.

use core::intrinsics::{AtomicOrdering, atomic_cxchg, atomic_xadd};

/// Adds `delta` (wrapping; a negative delta subtracts) to `*value` and
/// returns what it held before, as one instruction no other CPU can split.
///
/// # Safety
/// `value` must point to a live, 4-aligned `u32` (a map value the caller
/// holds a pointer to) that is only accessed atomically or by whole copies.
#[inline(always)]
pub unsafe fn fetch_add(value: *mut u32, delta: u32) -> u32 {
    // SAFETY: the caller's contract. SeqCst costs nothing more (every BPF
    // atomic is a full barrier) and is needed: for a Relaxed add, the
    // linker's LLVM emitted the form without BPF_FETCH and read a stale
    // register as the old value.
    unsafe { atomic_xadd::<u32, u32, { AtomicOrdering::SeqCst }>(value, delta) }
}

/// Replaces `*value` with `new` if it holds `expected`, as one
/// instruction (`BPF_ATOMIC | BPF_CMPXCHG`); returns `Ok(expected)` when it
/// did, else `Err` with what it held.
///
/// # Safety
/// As [`fetch_add`].
#[inline(always)]
pub unsafe fn compare_exchange(value: *mut u32, expected: u32, new: u32) -> Result<u32, u32> {
    // SAFETY: the caller's contract; SeqCst as in `fetch_add`.
    let (held, swapped) = unsafe {
        atomic_cxchg::<u32, { AtomicOrdering::SeqCst }, { AtomicOrdering::SeqCst }>(
            value, expected, new,
        )
    };
    if swapped { Ok(held) } else { Err(held) }
}
