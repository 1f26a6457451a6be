//! A controller over the in-memory host and datapath, with its state in a
//! temporary directory: what unit tests of the controller (and of what
//! drives it) run against, and a populated setup to start from.

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
};

use ipnetwork::Ipv4Network;

use crate::{
    api::ContainerOptions,
    controller::{
        Config, Controller, GuardInterfaces, Result, ipv6::Ipv6Request,
        masquerade::MasqueradeOptions,
    },
    dns::NameService,
    host::netlink::Route,
    portspec::{PortRequest, PortSpec, Protocol},
    state::{State, Store},
    testing::{
        DatapathWorld, FakeDatapath, FakeHost, FakeRelay, Faults, HostWorld, Link, LinkKind,
    },
};

/// The uplink every test host has: `eth0`, 203.0.113.1/24, default route.
pub const UPLINK: &str = "eth0";
pub const UPLINK_INDEX: u32 = 2;
pub const UPLINK_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);

pub fn net(text: &str) -> Ipv4Network {
    text.parse().expect("a valid CIDR in a test")
}

/// A host with loopback and one uplink, nothing of ebpfnet's.
pub fn bare_host() -> HostWorld {
    let device = |index, address| Link {
        index,
        kind: LinkKind::Device,
        mac: None,
        addresses: vec![address],
        addresses6: Vec::new(),
        up: true,
        forwarding: false,
        accept_ra: true,
    };
    let mut world = HostWorld {
        port_range: "32768\t60999\n".into(),
        ..HostWorld::default()
    };
    world
        .links
        .insert("lo".into(), device(1, (Ipv4Addr::LOCALHOST, 8)));
    world
        .links
        .insert(UPLINK.into(), device(UPLINK_INDEX, (UPLINK_IP, 24)));
    world.static_routes.push(Route {
        destination: net("0.0.0.0/0"),
        output: Some(UPLINK_INDEX),
    });
    world
}

/// A state directory of its own, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("ebpfnet-unit-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temporary state dir");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a test compares: the host, the datapath, the controller's state
/// and what it saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub host: HostWorld,
    pub datapath: DatapathWorld,
    pub state: State,
    pub saved: State,
}

pub struct Harness {
    pub controller: Controller,
    pub host: FakeHost,
    pub datapath: FakeDatapath,
    /// What the relay for this host's IPv4 clients of IPv6-only containers
    /// runs (a restart starts with none, as the daemon's).
    pub relay: FakeRelay,
    pub faults: Faults,
    pub dir: TempDir,
}

fn config(dir: &Path) -> Config {
    Config {
        uplinks: vec![UPLINK.into()],
        default_subnet: net("10.214.0.0/16"),
        default_bridge: "ebpfnet0".into(),
        default_ipv6: Default::default(),
        default_dns: Vec::new(),
        pin_dir: dir.join("pins"),
        masquerade: MasqueradeOptions::default(),
        guard_interfaces: GuardInterfaces::All,
    }
}

impl Harness {
    /// A daemon's first start on a bare host.
    pub async fn start() -> Self {
        Self::start_on(bare_host(), DatapathWorld::default(), TempDir::new())
            .await
            .expect("the controller starts on a bare host")
    }

    /// A start on the given host and datapath, with the state saved in
    /// `dir` (by an earlier controller, for a restart).
    pub async fn start_on(host: HostWorld, datapath: DatapathWorld, dir: TempDir) -> Result<Self> {
        Self::start_ipv6(host, datapath, dir, Default::default()).await
    }

    /// [`Harness::start_on`] of a daemon given `--ipv6` (and
    /// `--fixed-cidr-v6`) as `ipv6` says.
    pub async fn start_ipv6(
        host: HostWorld,
        datapath: DatapathWorld,
        dir: TempDir,
        ipv6: Ipv6Request,
    ) -> Result<Self> {
        Self::start_faulty(host, datapath, dir, ipv6, Faults::default()).await
    }

    /// [`Harness::start_ipv6`] with `faults` planned from the start.
    async fn start_faulty(
        host: HostWorld,
        datapath: DatapathWorld,
        dir: TempDir,
        ipv6: Ipv6Request,
        faults: Faults,
    ) -> Result<Self> {
        let mut config = config(dir.path());
        config.default_ipv6 = ipv6;
        let host = FakeHost::new(host, faults.clone());
        let datapath = FakeDatapath::new(datapath, faults.clone());
        let relay = FakeRelay::new(faults.clone());
        let controller = Controller::start_with_names(
            Store::new(dir.path().join("state")),
            Box::new(host.clone()),
            Box::new(datapath.clone()),
            Box::new(relay.clone()),
            config,
            NameService::silent(),
        )
        .await?;
        Ok(Self {
            controller,
            host,
            datapath,
            relay,
            faults,
            dir,
        })
    }

    /// A restart during which every call of `op` fails (no failures
    /// after it).
    pub async fn restart_failing(self, op: &str) -> Result<Self> {
        let (host, datapath) = (self.host.world(), self.datapath.world());
        let dir = self.dir;
        drop(self.controller);
        let faults = Faults::default();
        faults.fail_op(op);
        let h = Self::start_faulty(host, datapath, dir, Default::default(), faults).await?;
        h.faults.clear();
        Ok(h)
    }

    /// Stops this controller (as a crash would: nothing is torn down) and
    /// starts another on the same state dir, over the host and datapath
    /// `change` leaves.
    pub async fn restart(
        self,
        change: impl FnOnce(&mut HostWorld, &mut DatapathWorld),
    ) -> Result<Self> {
        let (mut host, mut datapath) = (self.host.world(), self.datapath.world());
        change(&mut host, &mut datapath);
        let dir = self.dir;
        drop(self.controller);
        Self::start_on(host, datapath, dir).await
    }

    /// [`Harness::restart`] with nothing changed, of a daemon given
    /// `--ipv6` as `ipv6` says.
    /// [`Self::restart`] after a reboot: no bridge, veth, namespace or map
    /// survives; the files in /etc do.
    pub async fn reboot(self) -> Result<Self> {
        self.reboot_with(|_, _| ()).await
    }

    /// [`Self::reboot`], with `also` changing the rebooted host and
    /// datapath before the start.
    pub async fn reboot_with(
        self,
        also: impl FnOnce(&mut HostWorld, &mut DatapathWorld),
    ) -> Result<Self> {
        self.restart(|host, datapath| {
            let files = std::mem::take(&mut host.etc_files);
            *host = bare_host();
            host.etc_files = files;
            *datapath = DatapathWorld::default();
            also(host, datapath);
        })
        .await
    }

    pub async fn restart_ipv6(self, ipv6: Ipv6Request) -> Result<Self> {
        let (host, datapath) = (self.host.world(), self.datapath.world());
        let dir = self.dir;
        drop(self.controller);
        Self::start_ipv6(host, datapath, dir, ipv6).await
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            host: self.host.world(),
            datapath: self.datapath.world(),
            state: self.controller.state().clone(),
            saved: self.saved(),
        }
    }

    /// The state file as the next start would read it.
    pub fn saved(&self) -> State {
        Store::new(self.dir.path().join("state"))
            .load()
            .expect("the saved state loads")
    }

    /// Makes saving the state fail: the state dir moves aside and a file
    /// takes its place.
    pub fn break_store(&self) {
        let dir = self.dir.path().join("state");
        std::fs::rename(&dir, self.dir.path().join("state.aside")).expect("move the state dir");
        std::fs::write(&dir, "not a directory").expect("put a file in its place");
    }

    /// Undoes [`Harness::break_store`].
    pub fn fix_store(&self) {
        let dir = self.dir.path().join("state");
        std::fs::remove_file(&dir).expect("remove the file");
        std::fs::rename(self.dir.path().join("state.aside"), &dir).expect("move the dir back");
    }
}

/// Panics unless the snapshots are equal, showing only the lines of their
/// pretty forms that differ.
pub fn assert_same(after: &Snapshot, before: &Snapshot, what: &str) {
    if after == before {
        return;
    }
    let (a, b) = (format!("{after:#?}"), format!("{before:#?}"));
    let only = |x: &str, y: &str| -> Vec<String> {
        let mut rest: Vec<&str> = y.lines().collect();
        x.lines()
            .filter(|line| match rest.iter().position(|r| r == line) {
                Some(i) => {
                    rest.swap_remove(i);
                    false
                }
                None => true,
            })
            .map(str::to_string)
            .collect()
    };
    panic!(
        "{what}: the snapshots differ\nnow only:\n{}\nbefore only:\n{}",
        only(&a, &b).join("\n"),
        only(&b, &a).join("\n")
    );
}

pub fn on(network: &str) -> ContainerOptions {
    ContainerOptions {
        network: Some(network.into()),
        ..ContainerOptions::default()
    }
}

pub fn tcp(host_port: u16, container_port: u16) -> PortRequest {
    PortRequest {
        host_ip: None,
        host_port: Some(host_port),
        host_port_end: None,
        container_port,
        protocol: Protocol::Tcp,
    }
}

pub fn ip6(text: &str) -> Ipv6Addr {
    text.parse().expect("an IPv6 address in a test")
}

/// The port requests of a `-p` spec such as `127.0.0.1:8180:80/udp`.
pub fn ports(text: &str) -> Vec<PortRequest> {
    text.parse::<PortSpec>().expect(text).0
}

/// IPv6 on `subnet`, IPv6-only when `only`, the gateway chosen.
pub fn ipv6_on(subnet: &str, only: bool) -> Ipv6Request {
    Ipv6Request {
        enable: true,
        subnet: Some(subnet.parse().expect("an IPv6 CIDR in a test")),
        gateway: None,
        only,
        routed: false,
    }
}

/// [`populated`] with dual-stack `ds` (10.7.0.0/24, fd00:7::/64) and
/// IPv6-only `six` (fd00:6::/64).
pub async fn with_ds_and_six() -> Harness {
    let mut h = populated().await;
    let c = &mut h.controller;
    let ds = ipv6_on("fd00:7::/64", false);
    c.create_network_ipv6("ds", Some(net("10.7.0.0/24")), None, false, &ds)
        .await
        .expect("ds");
    c.create_network_ipv6("six", None, None, false, &ipv6_on("fd00:6::/64", true))
        .await
        .expect("six");
    h
}

/// Networks front and spare (empty); web on bridge and front publishing
/// 8080; db on front; lonely with a saved port and no network; quiet in
/// mode none.
pub async fn populated() -> Harness {
    let mut h = Harness::start().await;
    let c = &mut h.controller;
    for (name, subnet) in [("front", "10.1.0.0/24"), ("spare", "10.3.0.0/24")] {
        c.create_network(name, Some(net(subnet)), None, false)
            .await
            .expect(name);
    }
    let mut web = on("bridge");
    web.ports = vec![tcp(8080, 80)];
    c.create_container("web", &web).await.expect("web");
    c.connect("front", "web", None, &[])
        .await
        .expect("web on front");
    c.create_container("db", &on("front")).await.expect("db");
    let mut lonely = on("bridge");
    lonely.ports = vec![tcp(7070, 70)];
    c.create_container("lonely", &lonely).await.expect("lonely");
    c.disconnect("bridge", "lonely")
        .await
        .expect("lonely alone");
    c.create_container("quiet", &on("none"))
        .await
        .expect("quiet");
    super::consistency::assert_consistent(&h.snapshot());
    h
}
