//! IPv4 Identification for what NAT46 sends without DF (RFC 7915 §5.1:
//! the translator generates it), which a router on the way may fragment:
//! it must not repeat for the same source, destination and protocol while
//! fragments of an earlier packet may be in flight (RFC 6864 §4.1). As
//! Linux's own `ip_idents`: an array of counters, each shared by the
//! (source, destination, protocol) triples that hash to it, advanced
//! atomically (CPUs share them) by the number of packets a send becomes
//! (a GSO packet's segments take consecutive IDs: the kernel's
//! segmentation numbers them up from the first). An ID comes round again
//! for a triple only after 65,536 more packets to its bucket. The counters
//! start at zero when the programs load (Linux also perturbs them with a
//! random step now and then, against off-path guessing; not done here).
//! Packets with DF keep ID 0 (RFC 6864 §4.1: atomic datagrams' IDs mean
//! nothing).

use aya_ebpf::{btf_maps::Array, macros::btf_map};

use ebpfnet_common::nat46;

use crate::{atomic, ip_header::Fragmentation};

/// log2 of the number of counters (2,048, as Linux's smallest table).
const BUCKET_BITS: u32 = 11;

#[btf_map]
static IP_IDENTS: Array<u32, { 1 << BUCKET_BITS }> = Array::new();

/// Reserves `count` consecutive IDs for packets from `src` to `dst` of
/// `protocol`; returns the first (host order).
#[inline(always)]
fn reserve(src: [u8; 4], dst: [u8; 4], protocol: u8, count: u32) -> u16 {
    let triple =
        u32::from_ne_bytes(src) ^ u32::from_ne_bytes(dst).rotate_left(16) ^ u32::from(protocol);
    // Fibonacci hashing: the top bits of the product mix every input bit.
    let bucket = triple.wrapping_mul(0x9e37_79b1) >> (32 - BUCKET_BITS);
    match IP_IDENTS.get_ptr_mut(bucket) {
        // SAFETY: a live, 4-aligned element of the array, only ever
        // changed by this atomic add.
        Some(counter) => unsafe { atomic::fetch_add(counter, count) as u16 },
        None => 0,
    }
}

/// DF and Identification of an IPv4 packet NAT46 sends from `src` to
/// `dst` (RFC 7915 §5.1): `len` bytes each (a GSO packet's segments) and
/// `count` of them. Above 1260 bytes DF and ID 0; at most, no DF and
/// `count` consecutive IDs reserved.
#[inline(always)]
pub fn fragmentation(
    len: u16,
    src: [u8; 4],
    dst: [u8; 4],
    protocol: u8,
    count: u32,
) -> Fragmentation {
    if nat46::dont_fragment(len) {
        Fragmentation {
            dont_fragment: true,
            id: 0,
        }
    } else {
        Fragmentation {
            dont_fragment: false,
            id: reserve(src, dst, protocol, count),
        }
    }
}
