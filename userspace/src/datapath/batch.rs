//! Reading a whole hash map many entries per system call
//! (`BPF_MAP_LOOKUP_BATCH`, Linux 5.6), which aya's `HashMap` does not
//! offer: its iterator costs two calls per entry (next key, then lookup),
//! which at a million NAT entries is most of a collector pass. The kernel
//! copies whole buckets, each under its lock, so an entry is never seen
//! twice nor torn; one added or removed meanwhile may or may not be seen.

use std::{
    io,
    mem::size_of,
    os::fd::{AsRawFd, BorrowedFd},
};

use aya::Pod;

const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;
/// Entries asked for per call.
const CHUNK: usize = 8192;

/// The `batch` part of `union bpf_attr` (`include/uapi/linux/bpf.h`).
#[repr(C)]
#[derive(Default)]
struct BatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

/// Every (key, value) of the hash map `fd`, whose key and value types are
/// `K` and `V` (the caller checked them against the map, as aya's typed
/// maps do when they are made).
pub fn lookup_all<K: Pod, V: Pod>(fd: BorrowedFd<'_>) -> io::Result<Vec<(K, V)>> {
    let mut all = Vec::new();
    let mut chunk = CHUNK;
    // The position to go on from: a bucket number for hash maps (u32),
    // room for a u64 to be safe.
    let mut token = 0u64;
    let mut started = false;
    loop {
        let mut keys: Vec<K> = Vec::with_capacity(chunk);
        let mut values: Vec<V> = Vec::with_capacity(chunk);
        let mut attr = BatchAttr {
            in_batch: if started {
                &token as *const u64 as u64
            } else {
                0
            },
            out_batch: &mut token as *mut u64 as u64,
            keys: keys.as_mut_ptr() as u64,
            values: values.as_mut_ptr() as u64,
            count: chunk as u32,
            map_fd: fd.as_raw_fd() as u32,
            ..Default::default()
        };
        // SAFETY: `attr` is a valid attribute for this command, of the
        // size passed; `keys` and `values` have room for `count` elements of
        // the map's key and value sizes (K and V are the map's types), the
        // tokens are 8 bytes (the kernel writes 4 for a hash map), and all
        // outlive the call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_MAP_LOOKUP_BATCH,
                &mut attr as *mut BatchAttr,
                size_of::<BatchAttr>() as u32,
            )
        };
        let err = (ret < 0).then(io::Error::last_os_error);
        match err.as_ref().and_then(io::Error::raw_os_error) {
            // A bucket holds more entries than asked for: ask for more.
            Some(libc::ENOSPC) if attr.count == 0 => {
                chunk *= 2;
                continue;
            }
            None | Some(libc::ENOENT) => {}
            Some(_) => return Err(err.unwrap_or_else(|| io::Error::other("bpf"))),
        }
        let filled = (attr.count as usize).min(chunk);
        // SAFETY: the kernel wrote `count` whole keys and values (on
        // success and on ENOENT, the end of the map); K and V are Pod.
        unsafe {
            keys.set_len(filled);
            values.set_len(filled);
        }
        all.extend(keys.into_iter().zip(values));
        if err.is_some() {
            return Ok(all);
        }
        started = true;
    }
}
