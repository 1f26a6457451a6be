//! Checks shared by several test files.

use std::path::Path;

use crate::*;

/// Everything `container inspect` says about `name`'s endpoint on `net`
/// matches what the namespace and host show. Returns (ip, prefix len).
pub fn check_endpoint(env: &TestEnv, name: &str, net: &str, ifname: &str) -> (String, u64) {
    let c = env.inspect_container(name);
    assert_eq!(c["Name"], name, "{c:#}");
    assert!(
        c["Id"].as_str().is_some_and(is_hex_id),
        "container Id should be 64 hex: {c:#}"
    );
    assert_eq!(
        c["NetworkSettings"]["SandboxKey"],
        format!("/run/netns/{name}").as_str(),
        "{c:#}"
    );
    assert!(netns_exists(name), "/run/netns/{name} missing");
    let ep = &c["NetworkSettings"]["Networks"][net];
    assert!(ep.is_object(), "no endpoint on {net}: {c:#}");
    let n = env.inspect_network(net);
    assert_eq!(ep["NetworkID"], n["Id"], "endpoint NetworkID: {c:#}");
    let subnet = n["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .unwrap()
        .to_string();
    let gateway = n["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .unwrap()
        .to_string();

    let ip = ep["IPAddress"].as_str().unwrap_or_default().to_string();
    let len = ep["IPPrefixLen"]
        .as_u64()
        .unwrap_or_else(|| panic!("IPPrefixLen: {ep:#}"));
    assert!(ip_in_cidr(&ip, &subnet), "{ip} not in {subnet}");
    assert_eq!(len, u64::from(parse_cidr(&subnet).1), "{ep:#}");
    assert_eq!(ep["Gateway"], gateway.as_str(), "{ep:#}");
    assert_eq!(ep["MacAddress"], mac_for_ip(&ip).as_str(), "{ep:#}");
    assert_eq!(ep["InterfaceName"], ifname, "{ep:#}");

    // Inside the namespace.
    assert_eq!(
        ipv4_addrs(Some(name), ifname),
        vec![format!("{ip}/{len}")],
        "addresses of {ifname} in {name}"
    );
    assert_eq!(netns_mac(name, ifname), mac_for_ip(&ip), "MAC of {ifname}");
    let lo = netns_exec_ok(name, &["ip", "-j", "link", "show", "dev", "lo"]);
    assert!(lo.contains("\"UP\""), "lo is not up in {name}: {lo}");

    // Host side of the veth: `veth` + 8 hex, enslaved to the network's bridge.
    let host = ep["HostInterface"].as_str().unwrap_or_default().to_string();
    assert!(
        host.len() == 12
            && host.starts_with("veth")
            && host[4..].bytes().all(|b| b.is_ascii_hexdigit()),
        "HostInterface should be veth + 8 hex: {host:?}"
    );
    assert!(link_exists(&host), "host veth {host} does not exist");
    let master = std::fs::read_link(Path::new("/sys/class/net").join(&host).join("master"))
        .unwrap_or_else(|e| panic!("{host} has no master: {e}"));
    let bridge = n["Options"]["com.docker.network.bridge.name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        master.file_name().and_then(|s| s.to_str()),
        Some(bridge.as_str()),
        "{host} should be enslaved to {bridge}"
    );
    (ip, len)
}
