//! Removing a hash map entry and reading what it held in one step
//! (`BPF_MAP_LOOKUP_AND_DELETE_ELEM`, hash maps since Linux 5.14), which
//! aya's `HashMap` does not offer. The collector needs it: between a read
//! and a separate delete, a packet may revive the entry, and the delete
//! would then end a live flow.

use std::{
    borrow::BorrowMut,
    io,
    mem::{MaybeUninit, size_of},
    os::fd::{AsFd, AsRawFd, BorrowedFd},
};

use aya::{
    Pod,
    maps::{HashMap, IterableMap, MapData, MapError},
    sys::SyscallError,
};
use libc::EEXIST;

use super::{
    DatapathError,
    maps::{removed, write_err},
};

/// `BPF_NOEXIST` (`include/uapi/linux/bpf.h`): write only a new key.
const BPF_NOEXIST: u64 = 1;

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

/// Deletes `key` from the NAT table `map` (named `name` in errors) unless
/// its entry is no longer the one the collector judged idle (`unchanged`
/// says, of the entry now): checked, then taken out and read in one step;
/// one that changed after all is put back (unless a new flow claimed the
/// tuple in that instant). Left is a window of nanoseconds: a packet that
/// found the entry before it was taken and writes to it after. Whether the
/// entry went.
pub fn delete_if_unchanged<T: BorrowMut<MapData>, K: Pod, V: Pod>(
    map: &mut HashMap<T, K, V>,
    name: &'static str,
    key: &K,
    unchanged: impl Fn(&V) -> bool,
) -> Result<bool, DatapathError> {
    match map.get(key, 0) {
        Ok(now) if unchanged(&now) => {}
        Ok(_) => return Ok(false),
        Err(e) => {
            removed(Err(e)).map_err(write_err(name, "read a flow"))?;
            return Ok(false);
        }
    }
    let taken = take::<K, V>(map.map().fd().as_fd(), key).map_err(|source| DatapathError::Io {
        action: format!("take an idle flow out of map {name}"),
        source,
    })?;
    match taken {
        Some(entry) if unchanged(&entry) => Ok(true),
        Some(entry) => match map.insert(key, entry, BPF_NOEXIST) {
            Ok(()) => Ok(false),
            Err(e) if already_there(&e) => Ok(false),
            Err(e) => Err(write_err(name, "put a revived flow back")(e)),
        },
        None => Ok(false),
    }
}

fn already_there(e: &MapError) -> bool {
    matches!(e, MapError::SyscallError(SyscallError { io_error, .. }) if io_error.raw_os_error() == Some(EEXIST))
}
