//! IPv6 through ebpfnet's Docker network driver: `docker network create
//! --ipv6 --subnet V4 --subnet V6` with the driver makes a dual-stack
//! ebpfnet network with Docker's IPv6 pool and gateway; Docker's containers
//! get their IPv6 address (CreateEndpoint's `AddressIPv6`) and IPv6
//! gateway (Join's `GatewayIPv6`), reach each other by ping and TCP over
//! IPv6, reach an outside IPv6 address through NAT66, and publish `-p`
//! on IPv6 (plain, `[::]`, `[::1]`) as ebpfnet's own `run -p` does, gone
//! with `docker rm`. A real Debian dockerd of the test's own, busybox
//! containers.

use std::time::Duration;

use ebpfnet_tests::TestEnv;
use ebpfnet_tests::docker::{Dockerd, PAGE, plugin_call, plugin_for_this_run};
use ebpfnet_tests::docker_use::{
    docker_logs, docker_network, env_with_plugin, fetch_in, http_get, httpd, serves_page_soon,
    sleeper,
};
use ebpfnet_tests::ipv6::{ipam_configs, v6_of};
use ebpfnet_tests::outside6::{OUTSIDE6, UPLINK6, Uplink6};
use ebpfnet_tests::traffic::{bpftool_dump, wait_for};

const SUBNET6: &str = "fd00:d6::/64";
const GATEWAY6: &str = "fd00:d6::1";

fn network_field(docker: &Dockerd, container: &str, field: &str) -> String {
    docker.inspect(
        container,
        &format!("{{{{(index .NetworkSettings.Networks \"d6\").{field}}}}}"),
    )
}

fn ping6_in(docker: &Dockerd, container: &str, ip: &str) -> bool {
    docker
        .docker(&["exec", container, "ping", "-6", "-c", "1", "-W", "2", ip])
        .status
        .success()
}

#[test]
fn docker_containers_get_ipv6_from_the_driver() {
    let env = env_with_plugin("dock6");
    let docker = Dockerd::start(&env);
    docker_network(
        &docker,
        "d6",
        &[
            "--ipv6",
            "--subnet",
            "10.238.0.0/24",
            "--subnet",
            SUBNET6,
            "-o",
            "ebpfnet.name=d6",
        ],
    );
    let net = env.inspect_network("d6");
    assert_eq!(net["EnableIPv6"], true, "{net:#}");
    assert!(
        ipam_configs(&net).contains(&(SUBNET6.to_string(), GATEWAY6.to_string())),
        "{net:#}"
    );

    let _uplink6 = Uplink6::add(&env);
    httpd(
        &docker,
        "web6",
        "d6",
        &["8080:80", "[::]:8081:80", "[::1]:8082:80"],
    );
    sleeper(&docker, "cli6", "d6");
    let web6 = network_field(&docker, "web6", "GlobalIPv6Address");
    assert!(
        web6.starts_with("fd00:d6::"),
        "web6's IPv6 address {web6:?}"
    );
    assert_eq!(network_field(&docker, "cli6", "IPv6Gateway"), GATEWAY6);
    // ebpfnet has the address Docker's IPAM gave, and its gateway.
    let (ebpfnet6, prefix, gateway6) = v6_of(&env, &docker.ebpfnet_name("web6"), "d6");
    assert_eq!((ebpfnet6.as_str(), prefix), (web6.as_str(), 64));
    assert_eq!(gateway6, GATEWAY6);
    // Container to container over IPv6: echo and TCP; the gateway answers.
    assert!(
        wait_for(Duration::from_secs(5), || ping6_in(&docker, "cli6", &web6)),
        "cli6 -> web6 over IPv6"
    );
    let page = fetch_in(&docker, "cli6", &web6);
    assert!(
        page.contains(ebpfnet_tests::docker::PAGE),
        "TCP over IPv6: {page:?}"
    );
    assert!(
        ping6_in(&docker, "cli6", GATEWAY6),
        "cli6 -> its IPv6 gateway"
    );

    published_on_ipv6_as_ebpfnet_run_p(&env, &docker, &web6);

    // Out through NAT66 (by the IPv6 default route via the gateway Join
    // gave) to an IPv6 address beyond the uplink, which has no route back
    // to the container subnet.
    assert!(
        wait_for(Duration::from_secs(10), || ping6_in(
            &docker, "cli6", OUTSIDE6
        )),
        "cli6 -> {OUTSIDE6} through NAT66"
    );

    // Gone with Docker's containers and network: no mapping left in
    // either family, and the ports answer no more.
    docker.ok(&["rm", "-f", "web6", "cli6"]);
    for map in ["PUBLISHED", "PUBLISHED6"] {
        let left = bpftool_dump(&env.pin_dir.join(map));
        assert_eq!(left, serde_json::json!([]), "{map} after docker rm");
    }
    let outside = Some(env.outside_ns.as_str());
    assert!(!http_get(outside, &format!("http://[{UPLINK6}]:8080/")).contains(PAGE));
    docker.ok(&["network", "rm", "d6"]);
    let left = env.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!left.lines().any(|l| l == "d6"), "{left}");
}

/// `-p 8080:80`, `-p [::]:8081:80` and `-p [::1]:8082:80` through the
/// driver publish as ebpfnet's own `run -p` does: a plain one on both
/// families, `::` on IPv6 only, `::1` for the host only; outside IPv6
/// clients keep their address, the host reaches `[::1]` through the
/// socket hooks; `ebpfnet port` and EndpointOperInfo show them.
fn published_on_ipv6_as_ebpfnet_run_p(env: &TestEnv, docker: &Dockerd, web6: &str) {
    let name = docker.ebpfnet_name("web6");
    let mut lines: Vec<String> = env
        .ok(&["port", &name])
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "80/tcp -> 0.0.0.0:8080",
            "80/tcp -> [::1]:8082",
            "80/tcp -> [::]:8080",
            "80/tcp -> [::]:8081",
        ]
    );
    let outside = Some(env.outside_ns.as_str());
    let url = |host: &str, port: u16| format!("http://{host}:{port}/");
    let up6 = format!("[{UPLINK6}]");
    // From outside over IPv6, both mappings on `::`; over IPv4 the plain one.
    assert!(
        serves_page_soon(outside, &url(&up6, 8080)),
        "[{UPLINK6}]:8080"
    );
    assert!(
        serves_page_soon(outside, &url(&up6, 8081)),
        "[{UPLINK6}]:8081"
    );
    assert!(
        serves_page_soon(outside, &url(&env.uplink_ip, 8080)),
        "IPv4 8080"
    );
    assert!(
        !http_get(outside, &url(&env.uplink_ip, 8081)).contains(PAGE),
        "[::]:8081 answered over IPv4"
    );
    // The outside client's own address reached the container.
    let logs = docker_logs(docker, "web6");
    assert!(
        logs.contains(&format!("{OUTSIDE6}]:")),
        "httpd saw no {OUTSIDE6}: {logs}"
    );
    // `[::1]` is the host's only: it answers there, not from outside.
    assert!(
        serves_page_soon(None, &url("[::1]", 8082)),
        "host [::1]:8082"
    );
    assert!(
        serves_page_soon(None, &url("[::1]", 8080)),
        "host [::1]:8080"
    );
    assert!(
        !http_get(outside, &url(&up6, 8082)).contains(PAGE),
        "[::1]:8082 answered the outside"
    );
    // The driver hands Docker the IPv6 bindings with the container's
    // IPv6 address (what `docker port` would show, see docs/docker.md).
    let (_, socket) = plugin_for_this_run();
    let request = format!(
        r#"{{"NetworkID":"{}","EndpointID":"{}"}}"#,
        docker.ok(&["network", "inspect", "-f", "{{.Id}}", "d6"]),
        network_field(docker, "web6", "EndpointID")
    );
    let (_, info) = plugin_call(&socket, "/NetworkDriver.EndpointOperInfo", &request);
    let info: serde_json::Value = serde_json::from_str(&info).expect("EndpointOperInfo JSON");
    let bindings = info["Value"]["com.docker.network.portmap"].clone();
    let v6: Vec<(String, String)> = bindings
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["HostIP"].as_str().is_some_and(|h| h.contains(':')))
        .map(|b| (b["HostIP"].to_string(), b["IP"].to_string()))
        .collect();
    assert_eq!(v6.len(), 3, "{info:#}");
    assert!(
        v6.iter().all(|(_, ip)| ip == &format!("\"{web6}\"")),
        "{info:#}"
    );
    let published = bpftool_dump(&env.pin_dir.join("PUBLISHED6"));
    let entries = published.as_array().map_or(0, Vec::len);
    assert_eq!(entries, 3, "PUBLISHED6: {published:#}");
    let text = published.to_string();
    let ip6: std::net::Ipv6Addr = web6.parse().expect("web6's IPv6 address");
    let octets: Vec<String> = ip6.octets().iter().map(u8::to_string).collect();
    assert!(
        text.contains(&format!("[{}]", octets.join(","))),
        "PUBLISHED6 does not lead to {web6}: {published:#}"
    );
}
