//! ebpfnet as Docker's network driver: a Debian dockerd of the test's own
//! (`--iptables=false --bridge=none`) uses the test daemon's
//! `--docker-plugin` socket; containers run from a busybox image built
//! offline.

use std::time::Duration;

use ebpfnet_tests::docker::{Dockerd, IMAGE, PAGE, plugin_call, plugin_for_this_run};
use ebpfnet_tests::traffic::{bpftool_dump, wait_for};
use ebpfnet_tests::*;
use serde_json::Value;

fn env_with_plugin(tag: &str) -> TestEnv {
    let (_, socket) = plugin_for_this_run();
    TestEnv::with_daemon_args(tag, &[&format!("--docker-plugin={}", socket.display())])
}

/// As [`env_with_plugin`], the socket given by daemon.json's
/// `docker-plugin` key instead of the flag.
fn env_with_plugin_key(tag: &str) -> TestEnv {
    let (_, socket) = plugin_for_this_run();
    let mut env = TestEnv::without_daemon(tag);
    let config = env.dir.join("daemon.json");
    let text = serde_json::json!({ "docker-plugin": socket }).to_string();
    std::fs::write(&config, text).unwrap_or_else(|e| panic!("write {}: {e}", config.display()));
    env.daemon_args = vec!["--config-file".into(), config.display().to_string()];
    env.start_daemon();
    env
}

/// `GET url` with python3, from `ns` or the host; the body, or "" on failure.
fn http_get(ns: Option<&str>, url: &str) -> String {
    let script = "import sys,urllib.request\n\
        print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode(), end='')";
    let out = match ns {
        Some(ns) => netns_exec(ns, &[python(), "-c", script, url]),
        None => std::process::Command::new(python())
            .args(["-c", script, url])
            .output()
            .expect("python3"),
    };
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn httpd(docker: &Dockerd, name: &str, network: &str, publish: &[&str]) {
    let mut args = vec!["run", "-d", "--name", name, "--network", network];
    for p in publish {
        args.extend(["-p", p]);
    }
    args.extend([IMAGE, "httpd", "-f", "-v", "-p", "80", "-h", "/www"]);
    docker.ok(&args);
}

/// `GET /` on port 80 of `target` (a name or an address) from inside a
/// Docker container, with busybox `nc` (the static busybox's `wget`
/// crashes in glibc's resolver); the response, or "" on failure.
fn fetch_in(docker: &Dockerd, container: &str, target: &str) -> String {
    let out = docker.docker(&[
        "exec",
        container,
        "sh",
        "-c",
        &format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {target} 80"),
    ]);
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Entries of a pinned hash map whose key is `ifindex`.
fn endpoint_entries(env: &TestEnv, ifindex: u32) -> Vec<Value> {
    let dump = bpftool_dump(&env.pin_dir.join("ENDPOINTS"));
    dump.as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["formatted"]["key"].as_u64() == Some(u64::from(ifindex)))
        .cloned()
        .collect()
}

#[test]
fn docker_containers_publish_resolve_talk_and_stay_isolated() {
    let env = env_with_plugin("docker");
    let docker = Dockerd::start(&env);
    let d = docker.driver.clone();
    docker.ok(&[
        "network",
        "create",
        "-d",
        &d,
        "--subnet",
        "10.231.0.0/24",
        "-o",
        "ebpfnet.name=dweb",
        "dweb",
    ]);
    let net = env.inspect_network("dweb");
    assert_eq!(
        net["IPAM"]["Config"][0]["Subnet"], "10.231.0.0/24",
        "{net:#}"
    );
    assert_eq!(net["IPAM"]["Config"][0]["Gateway"], "10.231.0.1", "{net:#}");

    // --internal is ebpfnet's; an option it does not know is refused.
    docker.ok(&[
        "network",
        "create",
        "-d",
        &d,
        "--internal",
        "--subnet",
        "10.236.0.0/24",
        "-o",
        "ebpfnet.name=dint",
        "dint",
    ]);
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
        wait_for(Duration::from_secs(5), || http_get(
            Some(&env.outside_ns),
            &outside_url
        )
        .contains(PAGE)),
        "outside cannot fetch the published port"
    );
    let logs = docker.docker(&["logs", "web"]);
    let logs =
        String::from_utf8_lossy(&logs.stderr).to_string() + &String::from_utf8_lossy(&logs.stdout);
    assert!(
        logs.contains(&format!("{}]:", env.outside_ip)),
        "httpd saw no request from {}: {logs}",
        env.outside_ip
    );
    assert!(http_get(None, "http://127.0.0.1:8080/").contains(PAGE));

    // Between Docker containers, by name through Docker's embedded DNS.
    docker.ok(&[
        "run",
        "-d",
        "--name",
        "cli",
        "--network",
        "dweb",
        IMAGE,
        "sleep",
        "600",
    ]);
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
    docker.ok(&[
        "run",
        "-d",
        "--name",
        "inner",
        "--network",
        "dint",
        IMAGE,
        "sleep",
        "600",
    ]);
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
    docker.ok(&[
        "network",
        "create",
        "-d",
        &d,
        "--subnet",
        "10.232.0.0/24",
        "dother",
    ]);
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
}

#[test]
fn docker_cleanup_is_complete_and_a_daemon_restart_keeps_traffic() {
    let mut env = env_with_plugin_key("docker-life");
    let docker = Dockerd::start(&env);
    let d = docker.driver.clone();
    docker.ok(&[
        "network",
        "create",
        "-d",
        &d,
        "--subnet",
        "10.233.0.0/24",
        "-o",
        "ebpfnet.name=dkeep",
        "dkeep",
    ]);
    httpd(&docker, "keep", "dkeep", &["8081:80"]);
    let url = format!("http://{}:8081/", env.uplink_ip);
    assert!(wait_for(Duration::from_secs(5), || http_get(
        Some(&env.outside_ns),
        &url
    )
    .contains(PAGE)));

    // The datapath is pinned: the container serves while the daemon is down
    // and after it is back, and the driver answers Docker again.
    env.stop_daemon();
    assert!(
        http_get(Some(&env.outside_ns), &url).contains(PAGE),
        "down: no traffic"
    );
    env.start_daemon();
    assert!(
        http_get(Some(&env.outside_ns), &url).contains(PAGE),
        "restarted: no traffic"
    );
    let keep = docker.ebpfnet_name("keep");
    assert!(env.ok(&["port", &keep]).contains("0.0.0.0:8081"));
    // A free host port on 127.0.0.1, chosen by ebpfnet.
    httpd(&docker, "late", "dkeep", &["127.0.0.1::80"]);
    let late = env
        .ok(&["port", &docker.ebpfnet_name("late")])
        .trim()
        .to_string();
    let port = late
        .strip_prefix("80/tcp -> 127.0.0.1:")
        .unwrap_or_else(|| panic!("ebpfnet port late: {late}"));
    let late_url = format!("http://127.0.0.1:{port}/");
    assert!(
        wait_for(Duration::from_secs(5), || http_get(None, &late_url)
            .contains(PAGE)),
        "the host cannot fetch {late_url}: {:?}",
        http_get(None, &late_url)
    );

    let veths: Vec<String> = ["keep", "late"]
        .iter()
        .map(|c| env.host_veth_of(&docker.ebpfnet_name(c), "dkeep"))
        .collect();
    let ifindexes: Vec<u32> = veths.iter().map(|v| link_ifindex(v)).collect();
    let bridge = env.bridge_of("dkeep");

    docker.ok(&["rm", "-f", "keep", "late"]);
    let containers = env.json(&["container", "ls"]);
    assert_eq!(containers, serde_json::json!([]), "{containers:#}");
    for (veth, index) in veths.iter().zip(&ifindexes) {
        assert!(!link_exists(veth), "{veth} left after docker rm");
        assert!(
            endpoint_entries(&env, *index).is_empty(),
            "ENDPOINTS keeps #{index}"
        );
    }
    let published = bpftool_dump(&env.pin_dir.join("PUBLISHED"));
    assert_eq!(published, serde_json::json!([]), "{published:#}");
    assert_eq!(http_get(Some(&env.outside_ns), &url), "");

    docker.ok(&["network", "rm", "dkeep"]);
    assert!(!env.ok(&["network", "ls"]).contains("dkeep"));
    assert!(
        !link_exists(&bridge),
        "bridge {bridge} left after docker network rm"
    );
    let records =
        std::fs::read_to_string(env.state_dir.join("docker-plugin.json")).expect("driver records");
    let records: Value = serde_json::from_str(&records).expect("records JSON");
    assert_eq!(records["networks"], serde_json::json!({}), "{records:#}");
    assert_eq!(records["endpoints"], serde_json::json!({}), "{records:#}");
}
