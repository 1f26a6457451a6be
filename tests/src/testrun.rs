//! Harness for the packet tests: the datapath object loaded with fresh,
//! unpinned maps, its TC programs run on crafted frames through
//! `BPF_PROG_TEST_RUN`, and a throwaway namespace with a link for
//! programs that look at `skb->ifindex`.

use std::path::PathBuf;

use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{Array, HashMap, PerCpuArray};
use aya::programs::{SchedClassifier, TestRun, TestRunOptions};
use aya::{Ebpf, EbpfLoader};
use ebpfnet_common::DropReason;
use ebpfnet_common::maps::{
    Config, EndpointAddr, EndpointInfo, FlowKey, HostAddr, LanIpKey, LanMac, LanMacKey, NatEntry,
    NetworkInfo, PublishedKey, PublishedValue, SubnetKey, UplinkInfo, proto,
};

pub use crate::packet_netns::PacketNetns;

mod overlay;

/// `TCX_NEXT` (`TC_ACT_UNSPEC`, -1): hand the packet on unchanged.
pub const TCX_NEXT: u32 = u32::MAX;
pub const TC_ACT_SHOT: u32 = 2;
pub const TC_ACT_REDIRECT: u32 = 7;

pub const UPLINK_INGRESS: &str = "uplink_ingress";
pub const CONTAINER_INGRESS: &str = "container_ingress";
pub const CONTAINER_EGRESS: &str = "container_egress";
pub const LAN_PARENT_EGRESS: &str = "lan_parent_egress";
pub const OVERLAY_INGRESS: &str = "overlay_ingress";

/// `sizeof(struct __sk_buff)` and the offsets of `ingress_ifindex` and
/// `ifindex` in it, as in `<linux/bpf.h>` (after len, pkt_type, mark,
/// queue_mapping, protocol, vlan_present, vlan_tci, vlan_proto, priority).
const SK_BUFF_SIZE: usize = 192;
const SK_BUFF_INGRESS_IFINDEX_OFF: usize = 36;
const SK_BUFF_IFINDEX_OFF: usize = 40;
/// `offsetof(struct __sk_buff, gso_segs)` and `gso_size`.
const SK_BUFF_GSO_SEGS_OFF: usize = 164;
const SK_BUFF_GSO_SIZE_OFF: usize = 176;

/// Path of the eBPF object: `<workspace>/target/ebpf/ebpfnet.bpf.o`.
pub fn object_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ebpf/ebpfnet.bpf.o")
}

/// `__sk_buff` fields a packet test may set besides the ifindex.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct SkbFields {
    /// Where a forwarded packet came in (0: made by the host).
    ingress_ifindex: u32,
    /// > 0: a GSO packet of segments this long.
    gso_size: u32,
}

/// What a program did with a frame.
#[derive(Debug)]
pub struct Outcome {
    pub verdict: u32,
    /// The frame as the program left it.
    pub out: Vec<u8>,
}

/// The datapath object with private maps and both TC programs loaded.
pub struct Datapath {
    pub(crate) ebpf: Ebpf,
}

impl Datapath {
    pub fn load() -> Self {
        let path = object_path();
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "eBPF object {} not readable ({e}): run `cargo xtask build-ebpf`",
                path.display()
            )
        });
        let mut ebpf = EbpfLoader::new()
            .load(&bytes)
            .unwrap_or_else(|e| panic!("loading {}: {e:?}", path.display()));
        for name in [
            UPLINK_INGRESS,
            CONTAINER_INGRESS,
            CONTAINER_EGRESS,
            LAN_PARENT_EGRESS,
            OVERLAY_INGRESS,
        ] {
            let prog: &mut SchedClassifier = ebpf
                .program_mut(name)
                .unwrap_or_else(|| panic!("no program {name} in the object"))
                .try_into()
                .unwrap_or_else(|e| panic!("{name} is not a classifier: {e:?}"));
            prog.load()
                .unwrap_or_else(|e| panic!("verifier rejected {name}: {e:?}"));
        }
        Self { ebpf }
    }

    /// Runs `program` on `frame`; with `ifindex`, as if received on it (the
    /// interface must exist in this thread's namespace).
    pub fn run(&self, program: &str, frame: &[u8], ifindex: Option<u32>) -> Outcome {
        self.run_skb(program, frame, ifindex, SkbFields::default())
    }

    /// Like [`Datapath::run`], with `skb->ingress_ifindex` set: the
    /// interface a forwarded packet came in on (0: made by the host).
    pub fn run_ctx(
        &self,
        program: &str,
        frame: &[u8],
        ifindex: Option<u32>,
        ingress_ifindex: u32,
    ) -> Outcome {
        let fields = SkbFields {
            ingress_ifindex,
            ..SkbFields::default()
        };
        self.run_skb(program, frame, ifindex, fields)
    }

    /// Like [`Self::run`]; with `gso_size` > 0 the skb is a GSO packet of
    /// `gso_size`-byte segments (as a TSO sender's), from `ifindex`.
    pub fn run_gso(
        &self,
        program: &str,
        frame: &[u8],
        ifindex: Option<u32>,
        gso_size: u32,
    ) -> Outcome {
        let fields = SkbFields {
            gso_size,
            ..SkbFields::default()
        };
        self.run_skb(program, frame, ifindex, fields)
    }

    /// Like [`Self::run`], but the kernel refusing the frame is an error.
    pub fn try_run(
        &self,
        program: &str,
        frame: &[u8],
        ifindex: Option<u32>,
    ) -> Result<Outcome, aya::programs::ProgramError> {
        self.try_run_skb(program, frame, ifindex, SkbFields::default())
    }

    /// Runs `program` on `frame` with these `__sk_buff` fields set.
    fn run_skb(
        &self,
        program: &str,
        frame: &[u8],
        ifindex: Option<u32>,
        fields: SkbFields,
    ) -> Outcome {
        self.try_run_skb(program, frame, ifindex, fields)
            .unwrap_or_else(|e| panic!("test_run of {program}: {e:?}"))
    }

    fn try_run_skb(
        &self,
        program: &str,
        frame: &[u8],
        ifindex: Option<u32>,
        fields: SkbFields,
    ) -> Result<Outcome, aya::programs::ProgramError> {
        let prog: &SchedClassifier = self
            .ebpf
            .program(program)
            .unwrap_or_else(|| panic!("no program {program}"))
            .try_into()
            .unwrap_or_else(|e| panic!("{program} is not a classifier: {e:?}"));
        let mut ctx = [0u8; SK_BUFF_SIZE];
        if let Some(ifindex) = ifindex {
            ctx[SK_BUFF_IFINDEX_OFF..SK_BUFF_IFINDEX_OFF + 4]
                .copy_from_slice(&ifindex.to_ne_bytes());
        }
        ctx[SK_BUFF_INGRESS_IFINDEX_OFF..SK_BUFF_INGRESS_IFINDEX_OFF + 4]
            .copy_from_slice(&fields.ingress_ifindex.to_ne_bytes());
        let gso_size = fields.gso_size;
        if gso_size > 0 {
            let segs = (frame.len() as u32).div_ceil(gso_size);
            ctx[SK_BUFF_GSO_SEGS_OFF..SK_BUFF_GSO_SEGS_OFF + 4]
                .copy_from_slice(&segs.to_ne_bytes());
            ctx[SK_BUFF_GSO_SIZE_OFF..SK_BUFF_GSO_SIZE_OFF + 4]
                .copy_from_slice(&gso_size.to_ne_bytes());
        }
        let mut out = vec![0u8; frame.len() + 256];
        let result = prog.test_run(TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            ctx_in: (ifindex.is_some() || fields != SkbFields::default()).then_some(&ctx[..]),
            ..Default::default()
        })?;
        out.truncate(result.data_size_out as usize);
        Ok(Outcome {
            verdict: result.return_value,
            out,
        })
    }

    pub(crate) fn hash<K: aya::Pod, V: aya::Pod>(
        &mut self,
        name: &str,
    ) -> HashMap<&mut aya::maps::MapData, K, V> {
        let map = self
            .ebpf
            .map_mut(name)
            .unwrap_or_else(|| panic!("no map {name}"));
        HashMap::try_from(map).unwrap_or_else(|e| panic!("map {name}: {e:?}"))
    }

    /// `PUBLISHED[host_ip:port/protocol] = target`.
    pub fn publish(&mut self, host_ip: [u8; 4], port: u16, protocol: u8, target: PublishedValue) {
        let key = PublishedKey {
            host_ip,
            host_port: port,
            protocol,
            _pad: 0,
        };
        self.hash::<PublishedKey, PublishedValue>("PUBLISHED")
            .insert(key, target, 0)
            .expect("PUBLISHED insert");
    }

    /// `NETWORKS[addr/prefix_len] = info`.
    pub fn add_network(&mut self, addr: [u8; 4], prefix_len: u32, info: NetworkInfo) {
        let map = self.ebpf.map_mut("NETWORKS").expect("no map NETWORKS");
        let mut trie: LpmTrie<_, SubnetKey, NetworkInfo> =
            LpmTrie::try_from(map).expect("NETWORKS");
        trie.insert(&Key::new(prefix_len, SubnetKey { addr }), info, 0)
            .expect("NETWORKS insert");
    }

    pub fn add_host_addr(&mut self, ip: [u8; 4], ifindex: u32) {
        self.hash::<[u8; 4], HostAddr>("HOST_ADDRS")
            .insert(ip, HostAddr { ifindex }, 0)
            .expect("HOST_ADDRS insert");
    }

    pub fn add_endpoint(&mut self, ifindex: u32, endpoint: EndpointInfo) {
        self.hash::<u32, EndpointInfo>("ENDPOINTS")
            .insert(ifindex, endpoint, 0)
            .expect("ENDPOINTS insert");
    }

    pub fn add_uplink(&mut self, ifindex: u32, ip: [u8; 4]) {
        self.hash::<u32, UplinkInfo>("UPLINKS")
            .insert(ifindex, UplinkInfo { ip, _pad: 0 }, 0)
            .expect("UPLINKS insert");
    }

    /// `ENDPOINT_IPS[ip] = where`: a container address delivered to directly.
    pub fn add_endpoint_ip(&mut self, ip: [u8; 4], ifindex: u32, mac: [u8; 6]) {
        let addr = EndpointAddr {
            ifindex,
            mac,
            ..Default::default()
        };
        self.hash::<[u8; 4], EndpointAddr>("ENDPOINT_IPS")
            .insert(ip, addr, 0)
            .expect("ENDPOINT_IPS insert");
    }

    /// A macvlan container (`mac`, `ip`) on the parent `ifindex`.
    pub fn add_lan_host(&mut self, ifindex: u32, mac: [u8; 6], ip: [u8; 4]) {
        self.hash::<LanMacKey, [u8; 4]>("LAN_HOSTS")
            .insert(LanMacKey::new(ifindex, mac), ip, 0)
            .expect("LAN_HOSTS insert");
        self.hash::<LanIpKey, LanMac>("LAN_IPS")
            .insert(LanIpKey::new(ifindex, ip), LanMac::new(mac), 0)
            .expect("LAN_IPS insert");
    }

    pub fn set_config(&mut self, config: Config) {
        let map = self.ebpf.map_mut("CONFIG").expect("no map CONFIG");
        let mut array: Array<_, Config> = Array::try_from(map).expect("CONFIG");
        array.set(0, config, 0).expect("CONFIG set");
    }

    fn nat_map(protocol: u8) -> &'static str {
        if protocol == proto::TCP {
            "NAT_TCP"
        } else {
            "NAT_OTHER"
        }
    }

    /// Writes one direction of a flow into `NAT_TCP` or `NAT_OTHER`.
    pub fn nat_insert(&mut self, key: FlowKey, entry: NatEntry) {
        let name = Self::nat_map(key.protocol);
        self.hash::<FlowKey, NatEntry>(name)
            .insert(key, entry, 0)
            .expect("NAT insert");
    }

    pub fn nat_get(&mut self, key: &FlowKey) -> Option<NatEntry> {
        let name = Self::nat_map(key.protocol);
        self.hash::<FlowKey, NatEntry>(name).get(key, 0).ok()
    }

    /// Every entry of `NAT_TCP` and `NAT_OTHER`.
    pub fn nat_entries(&mut self) -> Vec<(FlowKey, NatEntry)> {
        ["NAT_TCP", "NAT_OTHER"]
            .iter()
            .flat_map(|name| {
                self.hash::<FlowKey, NatEntry>(name)
                    .iter()
                    .filter_map(Result::ok)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// How many entries `NAT_TCP` + `NAT_OTHER` hold.
    pub fn nat_len(&mut self) -> usize {
        ["NAT_TCP", "NAT_OTHER"]
            .iter()
            .map(|name| self.hash::<FlowKey, NatEntry>(name).keys().count())
            .sum()
    }

    /// `DROPS[reason]` summed over CPUs.
    pub fn drops(&self, reason: DropReason) -> u64 {
        let map = self.ebpf.map("DROPS").expect("no map DROPS");
        let drops: PerCpuArray<_, u64> = PerCpuArray::try_from(map).expect("DROPS");
        drops
            .get(&(reason as u32), 0)
            .expect("DROPS get")
            .iter()
            .sum()
    }

    /// Runs `frame` and asserts it is dropped for `reason` (counted once).
    pub fn expect_drop(
        &self,
        program: &str,
        frame: &[u8],
        ifindex: Option<u32>,
        reason: DropReason,
    ) {
        let before = self.drops(reason);
        let outcome = self.run(program, frame, ifindex);
        assert_eq!(
            outcome.verdict,
            TC_ACT_SHOT,
            "{program}: expected a drop ({})",
            reason.name()
        );
        assert_eq!(
            self.drops(reason),
            before + 1,
            "DROPS[{}] not counted once",
            reason.name()
        );
    }

    /// [`Self::expect_drop`] by `container_ingress` of what the container
    /// behind `ifindex` sends.
    pub fn expect_container_drop(&self, ifindex: u32, frame: &[u8], reason: DropReason) {
        self.expect_drop(CONTAINER_INGRESS, frame, Some(ifindex), reason);
    }

    /// Runs `frame` and asserts it passes (`TCX_NEXT`) byte for byte unchanged.
    pub fn expect_pass(&self, program: &str, frame: &[u8], ifindex: Option<u32>) {
        let before: Vec<u64> = DropReason::ALL.iter().map(|r| self.drops(*r)).collect();
        let outcome = self.run(program, frame, ifindex);
        let counted: Vec<&str> = DropReason::ALL
            .iter()
            .zip(before)
            .filter(|(reason, before)| self.drops(**reason) != *before)
            .map(|(reason, _)| reason.name())
            .collect();
        assert_eq!(
            outcome.verdict, TCX_NEXT,
            "{program}: expected TCX_NEXT (drops counted: {counted:?})"
        );
        assert_eq!(outcome.out, frame, "{program}: a passed frame was modified");
    }
}
