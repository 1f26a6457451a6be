//! Podman from Debian (4.3, CNI backend) running a busybox container on an
//! ebpfnet network through `ebpfnet-cni`, with a published port: the page
//! reaches the outside (client address kept), the host on 127.0.0.1 and
//! an ebpfnet container by name and by address; Podman adds no firewall
//! rule; `podman rm -f` leaves nothing.

use ebpfnet_tests::images;
use ebpfnet_tests::podman::Podman;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::web::*;
use ebpfnet_tests::*;

const SUBNET: &str = "10.231.90.0/24";
const GATEWAY: &str = "10.231.90.1";
const IMAGE: &str = "localhost/ebpfnet-busybox:test";
const PAGE: &str = "hello from podman\n";

/// The host's packet filter as text: what nft holds (iptables-nft's rules
/// too) and iptables-legacy's tables, without the dated comment lines.
fn firewall() -> String {
    let mut text = String::new();
    for cmd in [
        &["nft", "list", "ruleset"][..],
        &["iptables-legacy-save"][..],
    ] {
        if let Ok(out) = run_timeout(
            std::process::Command::new(cmd[0]).args(&cmd[1..]),
            None,
            std::time::Duration::from_secs(20),
        ) {
            for line in out.stdout_str().lines().filter(|l| !l.starts_with('#')) {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    text
}

/// Files in libcni's result cache that name `id`.
fn cached_results(id: &str) -> Vec<String> {
    std::fs::read_dir("/var/lib/cni/results")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(id))
        .collect()
}

#[test]
fn a_podman_container_serves_its_published_port_and_podman_rm_leaves_nothing() {
    let env = TestEnv::new("cni-podman");
    env.create_network("podnet", &["--subnet", SUBNET]);
    env.create_container("client", &["--network", "podnet"]);
    let podman = Podman::new(&env);
    podman.add_network(&env, "podnet", "podnet");
    podman.import_busybox(IMAGE, PAGE);
    let backend = podman.ok(&["info", "--format", "{{.Host.NetworkBackend}}"]);
    assert_eq!(backend.trim(), "cni", "podman does not use CNI");

    let firewall_before = firewall();
    let mut run = vec![
        "run",
        "-d",
        "--name",
        "pweb",
        "--network",
        "podnet",
        "--network-alias",
        "www",
        "-p",
        "8080:80",
        "--pull",
        "never",
        IMAGE,
    ];
    run.extend(images::HTTPD);
    podman.ok(&run);
    let pod = podman.inspect("pweb");
    let id = pod["Id"].as_str().unwrap_or_default().to_string();
    let ip = pod["NetworkSettings"]["Networks"]["podnet"]["IPAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let sandbox = pod["NetworkSettings"]["SandboxKey"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(is_hex_id(&id), "podman inspect: {pod:#}");
    assert!(ip_in_cidr(&ip, SUBNET), "podman's address {ip:?}");

    // ebpfnet has the container: the attachment's labels, the same
    // address, the published port.
    let view = env.inspect_container(&id);
    let labels = &view["Config"]["Labels"];
    assert_eq!(labels["dev.ebpfnet.cni.config"], "podnet", "{view:#}");
    assert_eq!(labels["dev.ebpfnet.cni.container-id"], id.as_str());
    assert_eq!(env.ip_of(&id, "podnet"), ip);
    assert_eq!(port_lines(&env, &id), ["80/tcp -> 0.0.0.0:8080"]);
    let host_veth = env.host_veth_of(&id, "podnet");

    // The outside, through the uplink, with its address kept; the host,
    // on 127.0.0.1.
    let url = assert_published_page(&env, 8080, PAGE);
    let outside = in_netns(&env.outside_ns);

    // An ebpfnet container, by Podman's name for the container (CNI_ARGS
    // K8S_POD_NAME), by its alias and by address; and the other way round by name.
    let client = InContainer::new(&env, "client");
    let client = client.prefix();
    assert_eq!(fetch(&client, "http://pweb/").as_deref(), Ok(PAGE));
    // --network-alias arrives as the `aliases` capability.
    assert_eq!(fetch(&client, "http://www/").as_deref(), Ok(PAGE));
    assert_eq!(
        fetch(&client, &format!("http://{ip}/")).as_deref(),
        Ok(PAGE)
    );
    // Podman brings lo up itself: no loopback plugin in its plugin dir.
    let lo = podman.ok(&["exec", "pweb", "ip", "-o", "-4", "addr", "show", "lo"]);
    assert!(lo.contains("127.0.0.1/8"), "lo in pweb: {lo}");
    let resolv = podman.ok(&["exec", "pweb", "cat", "/etc/resolv.conf"]);
    assert!(
        resolv.lines().next() == Some(&format!("nameserver {GATEWAY}")),
        "podman did not put the network's name server first: {resolv}"
    );
    let lookup = podman.ok(&["exec", "pweb", "nslookup", "client"]);
    assert!(
        lookup.contains(&env.ip_of("client", "podnet")),
        "nslookup client in pweb: {lookup}"
    );

    assert_eq!(
        firewall(),
        firewall_before,
        "podman or the plugin changed the host's firewall"
    );

    podman.ok(&["rm", "-f", "-t", "0", "pweb"]);
    let names = ebpfnet_tests::cni::container_names(&env);
    assert_eq!(names, ["client"], "containers after podman rm");
    assert!(!link_exists(&host_veth), "host veth {host_veth} left");
    assert!(
        !std::path::Path::new(&sandbox).exists(),
        "namespace {sandbox} left"
    );
    assert!(
        fetch(&outside, &format!("{url}/")).is_err(),
        "port 8080 still answers the outside"
    );
    assert!(
        fetch(&[], "http://127.0.0.1:8080/").is_err(),
        "port 8080 still answers on 127.0.0.1"
    );
    assert!(
        cached_results(&id).is_empty(),
        "libcni kept {:?}",
        cached_results(&id)
    );
    assert_eq!(
        podman.ok(&["ps", "-aq"]).trim(),
        "",
        "podman kept a container"
    );
}
