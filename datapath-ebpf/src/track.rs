//! `track`, the per-packet step of connection tracking, written once for
//! both families' packets and expanded in `conntrack` (IPv4) and
//! `conntrack6` (IPv6).

/// Defines `track` for one family's packets. Written once, as a macro
/// rather than a generic function: compiled generic, the IPv4 copy came
/// out with more spills on its hot path (measured per program with
/// bpftool); compiled as plain code it is what it was before IPv6 shared
/// it.
macro_rules! define_track {
    ($(#[$attr:meta])* $packet:ty, $entry:ty) => {
        /// The entry for `packet`'s direction, updated for this packet. The
        /// reference is into the map (a copy would not fit the programs'
        /// stack): the tables are plain hashes, whose entries stay readable
        /// until the end of this program run even when deleted meanwhile
        /// (freed after an RCU grace period, never recycled in place as LRU
        /// entries are). `Ok(None)`: no flow `hook` applies (or a SYN
        /// reopening a closed one); an entry of another hook is left
        /// untouched. `Err`: a TCP reset that does not fit the flow's
        /// sequence space, to be dropped.
        $(#[$attr])*
        pub fn track(
            packet: &$packet,
            len: u32,
            hook: $crate::hook::Hook,
        ) -> Result<Option<&'static mut $entry>, ebpfnet_common::DropReason> {
            use $crate::{conntrack::Family, parse::FlowPacket};
            use ebpfnet_common::{
                DropReason,
                maps::{REPLY_SEEN, TCP_FIN_SEEN, TCP_RST_SEEN, proto},
            };
            use $crate::parse::{TCP_FIN, TCP_RST};

            let key = packet.key();
            let table = <$packet as FlowPacket>::Addr::table(packet.protocol);
            let Some(entry) = table.get_ptr_mut(key) else {
                return Ok(None);
            };
            // SAFETY: the pointer is valid for this program run (see above);
            // concurrent updates of the statistics from two CPUs may lose a
            // count, never corrupt state.
            unsafe {
                let entry: &'static mut $entry = &mut *entry;
                // Checked before any write: a packet at the wrong hook (a
                // forged one on an uplink, say) must not move a flow's state.
                if !<$packet as FlowPacket>::Addr::applies(hook, entry) {
                    return Ok(None);
                }
                // A new connection on the tuple of a closed one is a new
                // flow, with a translation of its own.
                if packet.opens_tcp() && $crate::conntrack::is_closed(entry) {
                    return Ok(None);
                }
                if packet.protocol == proto::TCP {
                    let was_closed = $crate::conntrack::is_closed(entry);
                    if packet.tcp_flags & TCP_RST != 0 {
                        // A spoofed reset must not end a live flow (and free
                        // its tuple for someone else).
                        let peer = table.get_ptr(entry.twin_key(packet.protocol)).map(|p| *p);
                        if !$crate::conntrack::rst_in_window(packet, entry, peer.as_ref()) {
                            return Err(DropReason::TcpOutOfWindow);
                        }
                        entry.tcp_flags |= TCP_RST_SEEN;
                    } else {
                        $crate::conntrack::record_sequence(packet, entry);
                    }
                    if packet.tcp_flags & TCP_FIN != 0 {
                        entry.tcp_flags |= TCP_FIN_SEEN;
                    }
                    // This direction just closed: if that ends the flow, a
                    // masqueraded one no longer holds its port (the quota
                    // counts live flows; a SYN may take the tuple over).
                    if !was_closed && $crate::conntrack::is_closed(entry) {
                        $crate::conntrack::flow_closed(&key, entry);
                    }
                }
                // Jiffy resolution is plenty for idle collection, and the
                // coarse clock is a read of a variable, not of the clock
                // source.
                entry.last_seen_ns = aya_ebpf::helpers::bpf_ktime_get_coarse_ns();
                entry.packets = entry.packets.wrapping_add(1);
                entry.bytes = entry.bytes.wrapping_add(u64::from(len));
                // Written once: later replies leave the flag (and its line)
                // alone.
                if entry.tcp_flags & REPLY_SEEN == 0
                    && <$packet as FlowPacket>::Addr::is_reply(entry.kind)
                {
                    entry.tcp_flags |= REPLY_SEEN;
                }
                Ok(Some(entry))
            }
        }
    };
}
pub(crate) use define_track;
