//! Removing a hash map entry and reading what it held in one step
//! (`BPF_MAP_LOOKUP_AND_DELETE_ELEM`, hash maps since Linux 5.14), which
//! aya's `HashMap` does not offer. The collector needs it: between a read
//! and a separate delete, a packet may revive the entry, and the delete
//! would then end a live flow.

use std::{
    io,
    mem::{MaybeUninit, size_of},
    os::fd::{AsRawFd, BorrowedFd},
};

use aya::Pod;

const BPF_MAP_LOOKUP_AND_DELETE_ELEM: libc::c_long = 21;

/// The part of `union bpf_attr` that the map element commands read
/// (`include/uapi/linux/bpf.h`): the kernel accepts a shorter attribute
/// when what it leaves out would be zero.
#[repr(C)]
struct MapElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

/// Removes `key` from the hash map `fd` and returns the value it held at
/// that instant (read and unlinked under the bucket's lock); `None` when
/// there was no such key.
pub fn take<K: Pod, V: Pod>(fd: BorrowedFd<'_>, key: &K) -> io::Result<Option<V>> {
    let mut value = MaybeUninit::<V>::uninit();
    let attr = MapElemAttr {
        map_fd: fd.as_raw_fd() as u32,
        _pad: 0,
        key: key as *const K as u64,
        value: value.as_mut_ptr() as u64,
        flags: 0,
    };
    // SAFETY: `attr` is a valid attribute for this command, of the size
    // passed; the key and value pointers are valid for the sizes the map
    // was created with (K and V are the map's key and value types), and
    // `value` outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_MAP_LOOKUP_AND_DELETE_ELEM,
            &attr as *const MapElemAttr,
            size_of::<MapElemAttr>() as u32,
        )
    };
    if ret < 0 {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::ENOENT) => Ok(None),
            _ => Err(err),
        };
    }
    // SAFETY: the kernel wrote a whole value on success; V is Pod.
    Ok(Some(unsafe { value.assume_init() }))
}
