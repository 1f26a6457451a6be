//! ebpfnet as Docker's network driver: a Debian dockerd of the test's own
//! (`--iptables=false --bridge=none`) uses the test daemon's
//! `--docker-plugin` socket; containers run from a busybox image built
//! offline.

use ebpfnet_tests::docker::{Dockerd, PAGE, plugin_call, plugin_for_this_run};
use ebpfnet_tests::docker_use::{
    docker_logs, docker_network, endpoint_entries, env_with_plugin, fetch_in, http_get, httpd,
    serves_page_soon, sleeper,
};
use ebpfnet_tests::*;
use serde_json::Value;

#[test]
fn docker_containers_publish_resolve_talk_and_stay_isolated() {
    let env = env_with_plugin("docker");
    let docker = Dockerd::start(&env);
    let d = docker.driver.clone();
    docker_network(
        &docker,
        "dweb",
        &["--subnet", "10.231.0.0/24", "-o", "ebpfnet.name=dweb"],
    );
    let net = env.inspect_network("dweb");
    assert_eq!(
        net["IPAM"]["Config"][0]["Subnet"], "10.231.0.0/24",
        "{net:#}"
    );
    assert_eq!(net["IPAM"]["Config"][0]["Gateway"], "10.231.0.1", "{net:#}");

    // --internal is ebpfnet's; an option it does not know is refused.
    docker_network(
        &docker,
        "dint",
        &[
            "--internal",
            "--subnet",
            "10.236.0.0/24",
            "-o",
            "ebpfnet.name=dint",
        ],
    );
    assert_eq!(env.inspect_network("dint")["Internal"], true);

    // Docker's networks are Docker's: inspect names the owner, `network rm`
    // refuses and says what to run, `network prune` passes them by.
    let dweb_id = docker.ok(&["network", "inspect", "-f", "{{.Id}}", "dweb"]);
    let labels = env.inspect_network("dweb")["Labels"].clone();
    assert_eq!(
        labels,
        serde_json::json!({"ebpfnet.owner": "docker", "ebpfnet.docker.network-id": dweb_id}),
        "{labels:#}"
    );
    env.fails_with(
        &["network", "rm", "dweb"],
        &[
            "network dweb belongs to Docker",
            &format!("`docker network rm {}`", &dweb_id[..12]),
        ],
    );
    env.create_network("spare", &[]);
    let pruned = env.ok(&["network", "prune", "-f"]);
    assert_eq!(pruned, "Deleted Networks:\nspare\n\n");
    let left = env.ok(&["network", "ls", "--format", "{{.Name}} {{.Labels}}"]);
    let owned = format!("dweb ebpfnet.docker.network-id={dweb_id},ebpfnet.owner=docker");
    assert!(left.lines().any(|l| l == owned), "{left}");
    assert!(left.lines().any(|l| l.starts_with("dint ")), "{left}");
    // Without --subnet, Docker's IPAM picks the subnet; the ebpfnet network
    // is named after Docker's id.
    let auto_id = docker.ok(&["network", "create", "-d", &d, "dauto"]);
    let auto = env.inspect_network(&format!("docker-{}", &auto_id[..12]));
    assert_eq!(
        auto["IPAM"]["Config"][0]["Subnet"].as_str(),
        Some(
            docker
                .ok(&[
                    "network",
                    "inspect",
                    "-f",
                    "{{(index .IPAM.Config 0).Subnet}}",
                    "dauto"
                ])
                .as_str()
        ),
        "{auto:#}"
    );
    docker.ok(&["network", "rm", "dauto"]);
    let refused = docker.fails(&["network", "create", "-d", &d, "-o", "mtu=1400", "dbad"]);
    assert!(
        refused.contains("unknown network option -o mtu"),
        "{refused}"
    );

    httpd(&docker, "web", "dweb", &["8080:80"]);
    let web_ip = docker.ip_on("web", "dweb");
    let web = docker.ebpfnet_name("web");
    assert_eq!(env.ip_of(&web, "dweb"), web_ip);
    // The datapath knows the endpoint by its host veth, with Docker's
    // address and the MAC ebpfnet gave Docker.
    let veth = env.host_veth_of(&web, "dweb");
    let entries = endpoint_entries(&env, link_ifindex(&veth));
    assert_eq!(entries.len(), 1, "ENDPOINTS has no entry for {veth}");
    let info = &entries[0]["formatted"]["value"];
    assert_eq!(
        info["ip"],
        serde_json::json!(parse_ipv4(&web_ip)),
        "{info:#}"
    );
    let mac: Vec<u64> = ebpfnet_tests::traffic::mac_bytes(&mac_for_ip(&web_ip))
        .iter()
        .map(|&b| u64::from(b))
        .collect();
    assert_eq!(info["mac"], serde_json::json!(mac), "{info:#}");
    assert_eq!(
        docker.inspect(
            "web",
            "{{(index .NetworkSettings.Networks \"dweb\").MacAddress}}"
        ),
        mac_for_ip(&web_ip)
    );
    let ports = env.ok(&["port", &web]);
    assert!(ports.contains("80/tcp -> 0.0.0.0:8080"), "{ports}");
    // What the driver tells Docker about the endpoint (Docker 20.10 does
    // not show a remote driver's mappings in `docker port`: docs/docker.md).
    let (_, socket) = plugin_for_this_run();
    let info = format!(
        r#"{{"NetworkID":"{}","EndpointID":"{}"}}"#,
        docker.ok(&["network", "inspect", "-f", "{{.Id}}", "dweb"]),
        docker.inspect(
            "web",
            "{{(index .NetworkSettings.Networks \"dweb\").EndpointID}}"
        )
    );
    let (_, info) = plugin_call(&socket, "/NetworkDriver.EndpointOperInfo", &info);
    let info: Value = serde_json::from_str(&info).expect("EndpointOperInfo JSON");
    assert_eq!(
        info["Value"]["com.docker.network.portmap"],
        serde_json::json!([{"Proto": 6, "IP": web_ip, "Port": 80, "HostIP": "0.0.0.0",
            "HostPort": 8080, "HostPortEnd": 8080}]),
        "{info:#}"
    );

    // From the outside, with the client's address kept, and from the host.
    let outside_url = format!("http://{}:8080/", env.uplink_ip);
    assert!(
        serves_page_soon(Some(&env.outside_ns), &outside_url),
        "outside cannot fetch the published port"
    );
    let logs = docker_logs(&docker, "web");
    assert!(
        logs.contains(&format!("{}]:", env.outside_ip)),
        "httpd saw no request from {}: {logs}",
        env.outside_ip
    );
    assert!(http_get(None, "http://127.0.0.1:8080/").contains(PAGE));

    // Between Docker containers, by name through Docker's embedded DNS.
    sleeper(&docker, "cli", "dweb");
    let looked_up = docker.ok(&["exec", "cli", "nslookup", "web"]);
    assert!(looked_up.contains(&web_ip), "{looked_up}");
    assert!(
        fetch_in(&docker, "cli", "web").contains(PAGE),
        "cli cannot fetch web by name"
    );

    // Out to the uplink, masqueraded; not from an --internal network.
    let _outside = tcp_server(&env.outside_ns, "0.0.0.0", 9100);
    let out_cmd = format!("echo hi | nc -w 3 {} 9100", env.outside_ip);
    let reply = docker.ok(&["exec", "cli", "sh", "-c", &out_cmd]);
    assert!(
        reply.contains(&format!("peer={} ", env.uplink_ip)),
        "{reply}"
    );
    sleeper(&docker, "inner", "dint");
    let reply = docker.docker(&["exec", "inner", "sh", "-c", &out_cmd]);
    assert!(
        !String::from_utf8_lossy(&reply.stdout).contains("hello"),
        "--internal reached the outside"
    );

    // An ebpfnet container on the same network talks with them.
    env.create_container("native", &["--network", "dweb"]);
    let native_ip = env.ip_of("native", "dweb");
    let _server = tcp_server("native", "0.0.0.0", 9000);
    let cli_ip = docker.ip_on("cli", "dweb");
    let reply = docker.ok(&[
        "exec",
        "cli",
        "sh",
        "-c",
        &format!("echo hi | nc -w 3 {native_ip} 9000"),
    ]);
    assert!(reply.contains(&format!("peer={cli_ip}")), "{reply}");
    assert!(http_get(Some("native"), &format!("http://{web_ip}/")).contains(PAGE));

    // Another ebpfnet network (made by Docker or by ebpfnet) is isolated.
    docker_network(&docker, "dother", &["--subnet", "10.232.0.0/24"]);
    let other = format!(
        "docker-{}",
        &docker.ok(&["network", "inspect", "-f", "{{.Id}}", "dother"])[..12]
    );
    assert!(env.ok(&["network", "ls"]).contains(&other));
    httpd(&docker, "far", "dother", &[]);
    let far_ip = docker.ip_on("far", "dother");
    assert_eq!(fetch_in(&docker, "far", &web_ip), "", "dother reached dweb");
    assert_eq!(fetch_in(&docker, "cli", &far_ip), "", "dweb reached dother");
    env.create_network("isle", &[]);
    env.create_container("stranger", &["--network", "isle"]);
    assert_eq!(http_get(Some("stranger"), &format!("http://{web_ip}/")), "");

    // docker network connect / disconnect.
    docker.ok(&["network", "connect", "dother", "cli"]);
    let cli = docker.ebpfnet_name("cli");
    assert_eq!(env.ip_of(&cli, &other), docker.ip_on("cli", "dother"));
    assert!(
        fetch_in(&docker, "cli", &far_ip).contains(PAGE),
        "connect: no route to far"
    );
    docker.ok(&["network", "disconnect", "dother", "cli"]);
    let endpoints = env.inspect_container(&cli)["NetworkSettings"]["Networks"].clone();
    assert!(endpoints.get(&other).is_none(), "{endpoints:#}");
    assert_eq!(
        fetch_in(&docker, "cli", &far_ip),
        "",
        "reached far after disconnect"
    );
    assert!(
        fetch_in(&docker, "cli", "web").contains(PAGE),
        "disconnect broke dweb"
    );

    // Connecting web, which publishes 8080, to dother: dother sorts before
    // dweb, so Docker moves web's default route and external connectivity
    // (Revoke, then Program on the new endpoint): the port follows.
    docker.ok(&["network", "connect", "dother", "web"]);
    let route = docker.ok(&["exec", "web", "ip", "route", "show", "default"]);
    assert!(route.starts_with("default via 10.232.0.1 "), "{route}");
    let fetched_via = |what: &str| {
        assert!(
            serves_page_soon(Some(&env.outside_ns), &outside_url),
            "{what}: outside cannot fetch the published port"
        );
    };
    fetched_via("connected to dother");
    assert!(env.ok(&["port", &web, "80/tcp"]).trim() == "0.0.0.0:8080");
    docker.ok(&["network", "disconnect", "dother", "web"]);
    let route = docker.ok(&["exec", "web", "ip", "route", "show", "default"]);
    assert!(route.starts_with("default via 10.231.0.1 "), "{route}");
    fetched_via("disconnected from dother");
    let seen = docker_logs(&docker, "web")
        .matches(&format!("{}]:", env.outside_ip))
        .count();
    assert!(
        seen >= 3,
        "httpd saw {seen} requests from {}",
        env.outside_ip
    );
}
