//! `network ls` and `container ls` against a live daemon, as Docker prints
//! them: the table (with `host` and `none`, in natural order), `-q`,
//! `--no-trunc`, JSON lines with Docker's keys, the PORTS column; and ids
//! and unique id prefixes wherever a name goes.

use std::collections::BTreeSet;

use ebpfnet_tests::*;
use serde_json::Value;

/// Docker's `network ls --format json` keys.
const NETWORK_KEYS: [&str; 9] = [
    "CreatedAt",
    "Driver",
    "ID",
    "IPv4",
    "IPv6",
    "Internal",
    "Labels",
    "Name",
    "Scope",
];
/// The `docker ps --format json` keys ebpfnet has.
const CONTAINER_KEYS: [&str; 7] = [
    "CreatedAt",
    "ID",
    "Labels",
    "Names",
    "Networks",
    "Ports",
    "RunningFor",
];

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// `ls --format json`: one object a line, nothing else.
fn json_lines(env: &TestEnv, args: &[&str]) -> Vec<Value> {
    let out = env.ok(args);
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?} is not JSON: {e}")))
        .collect()
}

fn id_of_network(env: &TestEnv, name: &str) -> String {
    let id = env.inspect_network(name)["Id"].as_str().map(str::to_string);
    id.unwrap_or_else(|| panic!("network {name} has no id"))
}

#[test]
fn ls_prints_what_docker_prints() {
    let env = TestEnv::new("dkls");
    let net = env.create_network("dk1net", &["--subnet", "10.231.0.0/24", "--internal"]);
    let a = env.create_container("dk1a", &["-p", "8000-8002:8000-8002", "-p", "8080:80"]);
    let b = env.create_container("dk1b", &["--network", "dk1net"]);

    // The table: bridge, dk1net, host, none by name, host and none with
    // Docker's drivers.
    let ids: Vec<(String, &str, &str)> = [
        ("bridge", "bridge"),
        ("dk1net", "bridge"),
        ("host", "host"),
        ("none", "null"),
    ]
    .into_iter()
    .map(|(name, driver)| (id_of_network(&env, name), name, driver))
    .collect();
    assert_eq!(ids[1].0, net);
    // Docker's tabwriter: columns at least 10 wide, 3 spaces of padding.
    let mut want = String::from("NETWORK ID     NAME      DRIVER    SCOPE\n");
    for (id, name, driver) in &ids {
        want.push_str(&format!("{}   {name:<10}{driver:<10}local\n", &id[..12]));
    }
    assert_eq!(env.ok(&["network", "ls"]), want);
    let short: Vec<&str> = ids.iter().map(|(id, _, _)| &id[..12]).collect();
    assert_eq!(env.ok(&["network", "ls", "-q"]), short.join("\n") + "\n");
    let full: Vec<&str> = ids.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(
        env.ok(&["network", "ls", "--quiet", "--no-trunc"]),
        full.join("\n") + "\n"
    );

    let networks = json_lines(&env, &["network", "ls", "--format", "json"]);
    assert_eq!(networks.len(), 4);
    for n in &networks {
        assert_eq!(keys(n), NETWORK_KEYS.into(), "{n}");
        // Go's time.Time.String(): `2026-01-02 03:04:05.123 +0000 UTC`.
        let created = n["CreatedAt"].as_str().unwrap_or_default();
        assert!(created.len() >= 25 && created.as_bytes()[10] == b' ', "{n}");
    }
    let dk1 = &networks[1];
    assert_eq!(dk1["ID"], &net[..12]);
    assert_eq!(
        (&dk1["Name"], &dk1["Driver"], &dk1["Internal"], &dk1["IPv4"]),
        (
            &"dk1net".into(),
            &"bridge".into(),
            &"true".into(),
            &"true".into()
        )
    );
    assert_eq!(
        (&dk1["IPv6"], &dk1["Labels"]),
        (&"false".into(), &"".into())
    );
    assert_eq!(networks[3]["Driver"], "null");

    // Containers: newest first.
    assert_eq!(
        env.ok(&["container", "ls", "-q"]),
        format!("{}\n{}\n", &b[..12], &a[..12])
    );
    let containers = json_lines(&env, &["container", "ls", "--format", "json", "--no-trunc"]);
    assert_eq!(containers.len(), 2);
    for c in &containers {
        assert_eq!(keys(c), CONTAINER_KEYS.into(), "{c}");
        let running = c["RunningFor"].as_str().unwrap_or_default();
        assert!(
            running.ends_with("seconds ago")
                || ["Less than a second ago", "1 second ago"].contains(&running),
            "{c}"
        );
        // Containers' creation to the second: `2026-01-02 03:04:05 +0000 UTC`.
        let created = c["CreatedAt"].as_str().unwrap_or_default();
        assert!(created.as_bytes().get(19) == Some(&b' '), "{c}");
    }
    let ca = &containers[1];
    assert_eq!(
        (&ca["ID"], &ca["Names"]),
        (&a.as_str().into(), &"dk1a".into())
    );
    assert_eq!(ca["Networks"], "bridge");
    assert_eq!(
        ca["Ports"],
        "0.0.0.0:8000-8002->8000-8002/tcp, 0.0.0.0:8080->80/tcp"
    );
    assert_eq!(
        (&containers[0]["Ports"], &containers[0]["Labels"]),
        (&"".into(), &"".into())
    );

    let table = env.ok(&["container", "ls"]);
    let row = table
        .lines()
        .find(|l| l.contains("dk1a"))
        .unwrap_or_else(|| panic!("no dk1a row:\n{table}"));
    assert!(
        row.ends_with("   0.0.0.0:8000-8002->8000-8002/tcp, 0.0.0.0:8080->80/tcp"),
        "{row}"
    );
    // Docker's layout: columns at least 10 wide, 3 spaces after the widest.
    assert!(
        table.starts_with("CONTAINER ID   NAME      NETWORKS   IP ADDRESS   PORTS\n"),
        "{table}"
    );

    // Docker's Go templates.
    assert_eq!(
        env.ok(&["container", "ls", "--format", "{{.Names}}"]),
        "dk1b\ndk1a\n"
    );
    assert_eq!(
        env.ok(&["network", "ls", "--format", "table {{.Name}}\\t{{.Driver}}"]),
        "NAME      DRIVER\nbridge    bridge\ndk1net    bridge\nhost      host\nnone      null\n"
    );
    assert_eq!(
        env.ok(&["network", "ls", "--format", "{{json .Name}}"]),
        "\"bridge\"\n\"dk1net\"\n\"host\"\n\"none\"\n"
    );
    env.fails_with(
        &["container", "ls", "--format", "{{.Names"],
        &["template parsing error"],
    );
    env.fails_with(
        &["stats", "--format", "{{.Names}}"],
        &["Go templates work with"],
    );

    // host and none are networks to inspect, not to remove.
    let host = env.inspect_network("host");
    assert_eq!(
        (&host["Driver"], &host["Name"]),
        (&"host".into(), &"host".into())
    );
    env.fails_with(&["network", "rm", "none"], &["none", "pre-defined"]);
    assert_eq!(env.inspect_network("none")["Id"], ids[3].0.as_str());
}

/// The shortest prefix of container `id` that no other container's id
/// starts with, now.
fn unique_container_prefix(env: &TestEnv, id: &str) -> String {
    let ids: Vec<String> = env
        .ok(&["container", "ls", "-q", "--no-trunc"])
        .lines()
        .map(str::to_string)
        .collect();
    assert!(ids.iter().any(|i| i == id), "{id} not in {ids:?}");
    unique_prefix(id, &ids)
}

/// The shortest prefix of `id` that no other of `ids` starts with.
fn unique_prefix(id: &str, ids: &[String]) -> String {
    (1..=id.len())
        .map(|n| &id[..n])
        .find(|p| ids.iter().filter(|other| other.starts_with(p)).count() == 1)
        .unwrap_or(id)
        .to_string()
}

#[test]
fn ids_and_unique_prefixes_name_containers_and_networks() {
    let env = TestEnv::new("dkid");
    let net = env.create_network("dk2net", &["--subnet", "10.231.0.0/24"]);
    let a = env.create_container("dk2a", &["-p", "8081:80"]);
    let b = env.create_container("dk2b", &[]);
    let pa = unique_container_prefix(&env, &a);

    // Full id and unique prefix, in every kind of command.
    assert_eq!(env.ok(&["port", &a]), "80/tcp -> 0.0.0.0:8081\n");
    assert_eq!(env.ok(&["port", &pa, "80"]), "0.0.0.0:8081\n");
    let inspect = env.json(&["container", "inspect", &pa]);
    assert_eq!(inspect[0]["Name"], "dk2a");
    let out = env.cli(&["exec", &pa, "--", "ip", "-o", "link", "show", "eth0"]);
    assert!(
        out.status.success(),
        "{}",
        cli::describe("exec by prefix", &out)
    );
    env.ok(&["publish", "8082:82", "--container", &a]);
    env.ok(&["unpublish", "8082:82", "--container", &pa]);
    let net_prefix = unique_prefix(
        &net,
        &["bridge", "host", "none", "dk2net"].map(|n| id_of_network(&env, n)),
    );
    assert_eq!(env.inspect_network(&net_prefix)["Name"], "dk2net");
    env.ok(&["network", "connect", &net_prefix, &pa]);
    assert!(env.endpoint("dk2a", "dk2net")["IPAddress"].is_string());
    env.ok(&["network", "disconnect", &net, &a]);
    env.create_container("dk2c", &["--network", &net_prefix]);
    assert!(env.endpoint("dk2c", "dk2net")["IPAddress"].is_string());
    let host_id = id_of_network(&env, "host");
    env.create_container("dk2h", &["--network", &host_id]);
    let h = env.inspect_container("dk2h");
    assert_eq!(h["HostConfig"]["NetworkMode"], "host", "{h:#}");
    let host = env.inspect_network("host");
    assert!(host["Containers"].to_string().contains("dk2h"), "{host:#}");
    let pa = unique_container_prefix(&env, &a);
    env.create_container("dk2s", &["--network", &format!("container:{pa}")]);
    let s = env.inspect_container("dk2s");
    assert_eq!(s["HostConfig"]["NetworkMode"], "container:dk2a", "{s:#}");
    // `rm` prints what it was given, as Docker.
    assert_eq!(env.ok(&["container", "rm", &b]), format!("{b}\n"));

    // Containers until two ids share their first digit (at most 17).
    let mut made: Vec<String> = vec![a.clone()];
    let shared = loop {
        let id = env.create_container(&format!("dk2x{}", made.len()), &[]);
        if let Some(twin) = made.iter().find(|m| m[..1] == id[..1]) {
            break (twin.clone(), id);
        }
        made.push(id);
    };
    let prefix = &shared.0[..1];
    let err = env.fails_with(&["port", prefix], &["ambiguous", prefix]);
    for id in [&shared.0, &shared.1] {
        assert!(err.contains(&id[..12]), "the error names {id}: {err}");
    }
    env.fails_with(&["container", "rm", prefix], &["ambiguous"]);
    assert!(netns_exists("dk2a"), "an ambiguous rm removed something");
}
