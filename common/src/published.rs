//! Key and value of the publishing tables, written once for both address
//! families: [`PublishedKeyOf`] and [`PublishedValueOf`] over the address
//! bytes (`[u8; 4]` or `[u8; 16]`, network order, so bpftool prints them
//! in the order they are written). The tables use their instances:
//! `maps::PublishedKey`, `maps::PublishedValue` for IPv4 (`PUBLISHED`,
//! `PUBLISHED_STATS`) and `published6::PublishedKey6`,
//! `published6::PublishedValue6` for IPv6 (`PUBLISHED6`,
//! `PUBLISHED_STATS6`).
//!
//! The byte layout of each instance is what it was as a struct of its own
//! (key 8 bytes for IPv4, 20 for IPv6; value 20 and 32; no hidden
//! padding), so pinned tables load across an upgrade. BTF names an
//! instance by its Rust name with bpf-linker's escapes
//! (`PublishedKeyOf_3C__5B_u8_3B__20_4_5D__3E_`); bpftool prints the
//! fields as before.
//!
//! Ports are `u16` in host byte order (bpftool prints `8080`), the
//! interface index too; padding is explicit (`_pad*`, always zero).

/// Key of `PUBLISHED`/`PUBLISHED6` (and of their counters): a host address
/// and port that leads into a container. An all-zero `host_ip` (`0.0.0.0`,
/// `::`) stands for every address of the host.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublishedKeyOf<A> {
    pub host_ip: A,
    pub host_port: u16,
    pub protocol: u8,
    pub _pad: u8,
}

impl<A: Copy> PublishedKeyOf<A> {
    pub const fn new(host_ip: A, host_port: u16, protocol: u8) -> Self {
        Self {
            host_ip,
            host_port,
            protocol,
            _pad: 0,
        }
    }
}

/// Value of `PUBLISHED`/`PUBLISHED6`: where the port leads.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PublishedValueOf<A> {
    pub container_ip: A,
    pub container_port: u16,
    pub _pad: u16,
    /// Host side of the container's veth: `bpf_redirect_peer` target.
    pub ifindex: u32,
    pub container_mac: [u8; 6],
    pub _pad2: [u8; 2],
}

impl<A: Copy> PublishedValueOf<A> {
    pub const fn new(
        container_ip: A,
        container_port: u16,
        ifindex: u32,
        container_mac: [u8; 6],
    ) -> Self {
        Self {
            container_ip,
            container_port,
            _pad: 0,
            ifindex,
            container_mac,
            _pad2: [0; 2],
        }
    }
}

#[cfg(feature = "user")]
mod pod {
    use super::*;
    // SAFETY: `#[repr(C)]` integers and byte arrays (the address, Pod)
    // with explicit padding fields: every bit pattern is valid.
    unsafe impl<A: aya::Pod> aya::Pod for PublishedKeyOf<A> {}
    unsafe impl<A: aya::Pod> aya::Pod for PublishedValueOf<A> {}
}

#[cfg(test)]
mod tests {
    use core::mem::{offset_of, size_of};

    use super::*;

    type V4 = [u8; 4];
    type V6 = [u8; 16];

    #[test]
    fn sizes_and_offsets_are_those_of_the_old_structs() {
        assert_eq!(size_of::<PublishedKeyOf<V4>>(), 8);
        assert_eq!(size_of::<PublishedValueOf<V4>>(), 20);
        assert_eq!(size_of::<PublishedKeyOf<V6>>(), 20);
        assert_eq!(size_of::<PublishedValueOf<V6>>(), 32);
        assert_eq!(offset_of!(PublishedValueOf<V4>, ifindex), 8);
        assert_eq!(offset_of!(PublishedValueOf<V4>, container_mac), 12);
        assert_eq!(offset_of!(PublishedValueOf<V6>, ifindex), 20);
        assert_eq!(offset_of!(PublishedValueOf<V6>, container_mac), 24);
    }

    #[test]
    fn constructors_zero_the_padding() {
        let key = PublishedKeyOf::<V6>::new([1; 16], 8080, 6);
        assert_eq!((key.host_port, key.protocol, key._pad), (8080, 6, 0));
        assert_eq!(PublishedKeyOf::<V4>::new([0; 4], 8080, 6)._pad, 0);
        let value = PublishedValueOf::<V6>::new([2; 16], 80, 7, [2, 0x42, 0, 0, 0, 2]);
        assert_eq!((value._pad, value._pad2), (0, [0; 2]));
        assert_eq!((value.container_port, value.ifindex), (80, 7));
        let value = PublishedValueOf::<V4>::new([10, 1, 0, 2], 80, 9, [1; 6]);
        assert_eq!((value._pad, value._pad2), (0, [0; 2]));
    }
}
