//! IPv6 through ebpfnet's Docker network driver: `docker network create
//! --ipv6 --subnet V4 --subnet V6` with the driver makes a dual-stack
//! ebpfnet network with Docker's IPv6 pool and gateway; Docker's containers
//! get their IPv6 address (CreateEndpoint's `AddressIPv6`) and IPv6
//! gateway (Join's `GatewayIPv6`), reach each other by ping and TCP over
//! IPv6, and reach an outside IPv6 address through NAT66. A real Debian
//! dockerd of the test's own, busybox containers.

use std::time::Duration;

use ebpfnet_tests::docker::Dockerd;
use ebpfnet_tests::docker_use::{docker_network, env_with_plugin, fetch_in, httpd, sleeper};
use ebpfnet_tests::ipv6::{ipam_configs, v6_of};
use ebpfnet_tests::outside6::{OUTSIDE6, Uplink6};
use ebpfnet_tests::traffic::wait_for;

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

    httpd(&docker, "web6", "d6", &[]);
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

    // Out through NAT66 (by the IPv6 default route via the gateway Join
    // gave) to an IPv6 address beyond the uplink, which has no route back
    // to the container subnet.
    let _uplink6 = Uplink6::add(&env);
    assert!(
        wait_for(Duration::from_secs(10), || ping6_in(
            &docker, "cli6", OUTSIDE6
        )),
        "cli6 -> {OUTSIDE6} through NAT66"
    );

    // Gone with Docker's containers and network.
    docker.ok(&["rm", "-f", "web6", "cli6"]);
    docker.ok(&["network", "rm", "d6"]);
    let left = env.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!left.lines().any(|l| l == "d6"), "{left}");
}
