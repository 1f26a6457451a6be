//! IPv4 fragments for the packet tests: a datagram cut as a sender cuts it,
//! and reassembly of what a program made of the pieces.

use crate::packet::{ETH_LEN, IP_MF, Ipv4Builder, View};

/// The fragments of the L4 datagram `l4` (already checksummed) from `b`,
/// with at most `chunk` bytes (a multiple of 8) of it in each, IP id `id`.
pub fn fragments(b: &Ipv4Builder, protocol: u8, l4: &[u8], chunk: usize, id: u16) -> Vec<Vec<u8>> {
    assert!(
        chunk.is_multiple_of(8),
        "fragment payloads are 8-byte units"
    );
    l4.chunks(chunk)
        .enumerate()
        .map(|(i, piece)| {
            let offset = (i * chunk / 8) as u16;
            let more = if (i + 1) * chunk < l4.len() { IP_MF } else { 0 };
            let mut frame = b.clone().frag(more | offset).ipv4(protocol, piece);
            set_id(&mut frame, id);
            frame
        })
        .collect()
}

/// Sets the IP id of `frame` and fixes its header checksum.
pub fn set_id(frame: &mut [u8], id: u16) {
    frame[ETH_LEN + 4..ETH_LEN + 6].copy_from_slice(&id.to_be_bytes());
    frame[ETH_LEN + 10..ETH_LEN + 12].fill(0);
    let ihl = View(frame).ihl();
    let csum = crate::packet::internet_checksum(&frame[ETH_LEN..ETH_LEN + ihl], 0);
    frame[ETH_LEN + 10..ETH_LEN + 12].copy_from_slice(&csum.to_be_bytes());
}

/// The IP id of `frame`.
pub fn id_of(frame: &[u8]) -> u16 {
    u16::from_be_bytes([frame[ETH_LEN + 4], frame[ETH_LEN + 5]])
}

/// Reassembles fragments (in any order) into one unfragmented frame with
/// the first fragment's headers. Panics on holes or mismatched headers.
pub fn reassemble(pieces: &[Vec<u8>]) -> Vec<u8> {
    let mut parts: Vec<(usize, bool, &[u8])> = pieces
        .iter()
        .map(|f| {
            let v = View(f);
            let word = u16::from_be_bytes([f[ETH_LEN + 6], f[ETH_LEN + 7]]);
            let total = usize::from(u16::from_be_bytes([f[ETH_LEN + 2], f[ETH_LEN + 3]]));
            let data = &f[v.l4_off()..ETH_LEN + total];
            (usize::from(word & 0x1fff) * 8, word & IP_MF != 0, data)
        })
        .collect();
    parts.sort_by_key(|p| p.0);
    let first = pieces
        .iter()
        .find(|f| u16::from_be_bytes([f[ETH_LEN + 6], f[ETH_LEN + 7]]) & 0x1fff == 0)
        .expect("no first fragment");
    let (v, id) = (View(first), id_of(first));
    let mut l4 = Vec::new();
    for (offset, _, data) in &parts {
        assert_eq!(*offset, l4.len(), "hole or overlap at offset {offset}");
        l4.extend_from_slice(data);
    }
    assert!(
        !parts.last().expect("no fragments").1,
        "last fragment has MF"
    );
    for f in pieces {
        let w = View(f);
        assert_eq!(id_of(f), id, "IP ids differ");
        assert_eq!(
            (w.src_ip(), w.dst_ip(), w.protocol()),
            (v.src_ip(), v.dst_ip(), v.protocol()),
            "fragments of one datagram with different addresses"
        );
        assert!(w.ipv4_checksum_ok(), "a fragment's IPv4 checksum is wrong");
    }
    let mut b = Ipv4Builder::new(v.src_ip(), v.dst_ip()).macs(v.src_mac(), v.dst_mac());
    b.ttl = first[ETH_LEN + 8];
    b.frag(0).ipv4(v.protocol(), &l4)
}
